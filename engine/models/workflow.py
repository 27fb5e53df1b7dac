"""Process spec versions, running instances and the human-task projection."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JsonType, UtcDateTime, utcnow


class InstanceStatus(StrEnum):
    RUNNING = "running"  # waiting for people
    WAITING = "waiting"  # waiting only for a timer or message
    COMPLETE = "complete"
    ERROR = "error"


class TaskStatus(StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ProcessSpecVersion(Base):
    """A diagram and its forms, stored once per content hash. Instances point here."""

    __tablename__ = "process_spec_versions"
    __table_args__ = (UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    bpmn: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict] = mapped_column(JsonType)  # filename → parsed JSON
    source: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: shipped in processes/
    change_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    changes: Mapped[dict | None] = mapped_column(JsonType)  # engine.process_diff against the previous version


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (Index("ix_process_instances_due", "next_timer_due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    spec_version_id: Mapped[int] = mapped_column(ForeignKey("process_spec_versions.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), index=True)
    subject_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    state: Mapped[bytes] = mapped_column(LargeBinary)  # serialized workflow without the spec (zlib JSON)
    serializer_version: Mapped[str] = mapped_column(String(16))
    current_step: Mapped[str] = mapped_column(String(200), default="")  # bpmn ids of ready tasks
    completed_steps: Mapped[list] = mapped_column(JsonType, default=list)  # bpmn ids passed, for the diagram
    outcome: Mapped[str] = mapped_column(String(100), default="")  # bpmn id of the end event reached
    next_timer_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str] = mapped_column(Text, default="")  # why the last engine step failed (status "error")
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(Base):
    """Projection of ready user tasks, so inboxes never load workflows."""

    __tablename__ = "human_tasks"
    __table_args__ = (Index("ix_human_tasks_org_status", "organisation_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SpiffWorkflow task id
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict] = mapped_column(JsonType, default=dict)  # the step's name per language
    lane: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(32), default="")
    form: Mapped[str] = mapped_column(String(200), default="")
    ui_form: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    prefill: Mapped[dict] = mapped_column(JsonType, default=dict)  # initial form values, so pages need no workflow


class HumanTaskOwner(Base):
    __tablename__ = "human_task_owners"

    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)
