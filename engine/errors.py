"""Errors the engine raises; the web layer maps them to HTTP statuses."""

from __future__ import annotations


class EngineError(Exception):
    """Base of all engine errors. ``code`` is a stable, translatable key."""

    code = "engine_error"

    def __init__(self, message: str = "", **params):
        super().__init__(message or self.code)
        self.params = params


class NotFoundError(EngineError):
    code = "not_found"


class TaskNotFoundError(NotFoundError):
    code = "task_not_found"


class NotAllowedError(EngineError):
    code = "not_allowed"


class ConflictError(EngineError):
    code = "conflict"


class TaskConflictError(ConflictError):
    """The task was completed or changed by someone else in the meantime."""

    code = "task_conflict"


class FormValidationError(EngineError):
    """Submitted data does not satisfy the task's form. ``errors`` maps field → [error dicts]."""

    code = "form_invalid"

    def __init__(self, errors: dict[str, list[dict]], data: dict | None = None):
        super().__init__("form data is invalid")
        self.errors = errors
        self.data = data or {}  # what was submitted, to show it again beside the errors


class DiagramError(EngineError):
    """A diagram or its forms failed the checks. ``problems`` lists what and where."""

    code = "diagram_invalid"

    def __init__(self, problems: list):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class ExpressionError(EngineError):
    code = "expression_not_allowed"


class WorkflowError(EngineError):
    """The engine could not run a workflow step (a diagram or data problem)."""

    code = "workflow_error"
