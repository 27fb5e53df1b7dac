"""``valtuus`` commands for the lifecycle: the scheduler and HR events (registered on the main group)."""

from __future__ import annotations

from .cli import main  # noqa: F401
