"""Named service operations: the only way a diagram changes anything outside itself.

A service task names an operation (``registry.record_approval``) and passes
parameters as checked expressions. Operations run inside the command's unit of
work, so what they write commits or rolls back with the workflow state.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from .errors import EngineError


@dataclass
class OperationContext:
    """What an operation may see: the session, the instance and who caused the step."""

    session: Session
    organisation_id: int
    instance_id: int
    subject_person_id: int | None
    actor_id: int | None
    data: dict  # the running task's data (read it; do not write workflow data here)
    now: datetime


@dataclass(frozen=True)
class Operation:
    name: str
    func: Callable
    params: tuple[str, ...]
    description: str


OPERATIONS: dict[str, Operation] = {}


def operation(name: str):
    """Register ``func(ctx, **params)`` as the service operation ``name``."""

    def register(func: Callable) -> Callable:
        params = tuple(p for p in inspect.signature(func).parameters if p != "ctx")
        OPERATIONS[name] = Operation(name, func, params, (func.__doc__ or "").strip().splitlines()[0])
        return func

    return register


def call(ctx: OperationContext, name: str, params: dict):
    op = OPERATIONS.get(name)
    if op is None:
        raise EngineError(f"unknown service operation {name!r}")
    unknown = set(params) - set(op.params)
    if unknown:
        raise EngineError(f"operation {name!r} takes no parameter(s) {sorted(unknown)}")
    return op.func(ctx, **params)


def load_all() -> dict[str, Operation]:
    """Import the modules that define operations (kept explicit: no import-time magic elsewhere)."""
    from . import code_introduction, registry, review_steps, revocation, role_profile_steps  # noqa: F401

    return OPERATIONS
