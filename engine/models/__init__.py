"""SQLAlchemy tables. Every row carries its organisation (the tenant)."""

from .api import ApiIdempotencyKey, ApiToken
from .audit import AuditChainHead, AuditEvent
from .base import Base
from .directory import Organisation, Person, PersonRole, Unit
from .notifications import Notification, NotificationPreference, OutboxMessage
from .profiles import RoleProfile, RoleProfileCode
from .registry import (
    Authorization,
    AuthorizationCategory,
    AuthorizationCode,
    AuthorizationSource,
    AuthorizationStatus,
    HrEvent,
    ImportUpload,
    MandateType,
    ReviewItem,
)
from .webhooks import WebhookDelivery, WebhookEndpoint
from .workflow import (
    HumanTask,
    HumanTaskOwner,
    InstanceStatus,
    ProcessInstance,
    ProcessSpecVersion,
    TaskStatus,
)

__all__ = [
    "ApiIdempotencyKey",
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "Authorization",
    "AuthorizationCategory",
    "AuthorizationCode",
    "AuthorizationSource",
    "AuthorizationStatus",
    "Base",
    "HrEvent",
    "HumanTask",
    "HumanTaskOwner",
    "ImportUpload",
    "InstanceStatus",
    "MandateType",
    "Notification",
    "NotificationPreference",
    "Organisation",
    "OutboxMessage",
    "Person",
    "PersonRole",
    "ProcessInstance",
    "ProcessSpecVersion",
    "ReviewItem",
    "RoleProfile",
    "RoleProfileCode",
    "TaskStatus",
    "Unit",
    "WebhookDelivery",
    "WebhookEndpoint",
]
