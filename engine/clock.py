"""One clock for the engine and for SpiffWorkflow's timers.

SpiffWorkflow decides whether a timer has fired with ``datetime.now(timezone.utc)``
inside its timer module. To run timers against the host's clock (and to simulate
years in tests and benchmarks) that module's ``datetime`` is replaced, once, by a
subclass whose ``now()`` answers the time of the command being run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_now: ContextVar[datetime | None] = ContextVar("engine_now", default=None)


class _EngineDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        current = _now.get()
        if current is None:
            return datetime.now(tz)
        return current.astimezone(tz) if tz else current.astimezone(UTC).replace(tzinfo=None)


def install() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    if timer.datetime is not _EngineDatetime:
        timer.datetime = _EngineDatetime


@contextmanager
def frozen_at(now: datetime) -> Iterator[None]:
    """SpiffWorkflow sees ``now`` as the current time inside this block (this thread/context only)."""
    token = _now.set(now)
    try:
        yield
    finally:
        _now.reset(token)


def system_now() -> datetime:
    return datetime.now(UTC)


FINNISH_TIME = ZoneInfo("Europe/Helsinki")


def local_date(now: datetime) -> date:
    """The calendar date in Finland: Suomi.fi's validity dates are Finnish time."""
    return now.astimezone(FINNISH_TIME).date()
