"""SQLAlchemy tables. Every row carries its organisation (the tenant)."""

from .audit import AuditEvent
from .base import Base
from .directory import Organisation, Person, PersonRole, Unit
from .registry import (
    Authorization,
    AuthorizationCategory,
    AuthorizationCode,
    AuthorizationSource,
    AuthorizationStatus,
    ImportUpload,
    MandateType,
)
from .workflow import (
    HumanTask,
    HumanTaskOwner,
    InstanceStatus,
    ProcessInstance,
    ProcessSpecVersion,
    TaskStatus,
)

__all__ = [
    "AuditEvent",
    "Authorization",
    "AuthorizationCategory",
    "AuthorizationCode",
    "AuthorizationSource",
    "AuthorizationStatus",
    "Base",
    "HumanTask",
    "HumanTaskOwner",
    "ImportUpload",
    "InstanceStatus",
    "MandateType",
    "Organisation",
    "Person",
    "PersonRole",
    "ProcessInstance",
    "ProcessSpecVersion",
    "TaskStatus",
    "Unit",
]
