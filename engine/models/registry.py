"""The registry: authorization codes and the authorizations people hold."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JsonType, UtcDateTime, utcnow


class MandateType(StrEnum):
    TRANSACTION = "transaction"  # asiointivaltuus
    GRANTING_RIGHT = "granting_right"  # valtuutusoikeus
    REPRESENTATION = "representation"  # edustamisvaltuus
    REPRESENTATIVE_GRANTING_RIGHT = "representative_granting_right"  # edustajan valtuutusoikeus


class AuthorizationStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    ACTIVE = "active"
    REVOKING = "revoking"  # revocation pending: waiting for the pääkäyttäjä to invalidate it in Suomi.fi
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # dropped from a request before any decision


class AuthorizationCategory(Base):
    __tablename__ = "authorization_categories"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[dict] = mapped_column(JsonType)
    description: Mapped[dict] = mapped_column(JsonType, default=dict)


class CodeStatus(StrEnum):
    DRAFT = "draft"  # being written: not offered
    ACTIVE = "active"  # offered in new requests
    HIDDEN = "hidden"  # withdrawn, policy "hidden": no new requests, existing authorizations stay valid
    WITHDRAWN = "withdrawn"  # withdrawn, policy "removed": existing authorizations are revoked


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("authorization_categories.id"))
    agency: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[dict] = mapped_column(JsonType)
    description: Mapped[dict] = mapped_column(JsonType, default=dict)
    mandate_type: Mapped[str] = mapped_column(String(40), default=MandateType.TRANSACTION.value)
    status: Mapped[str] = mapped_column(String(16), default="active")  # a CodeStatus
    verified: Mapped[bool] = mapped_column(Boolean, default=False)  # the names were checked at the agency's pages
    description_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    services: Mapped[list] = mapped_column(JsonType, default=list)  # the e-services it is used in, by name
    warning: Mapped[dict] = mapped_column(JsonType, default=dict)  # {fi, sv, en}: what it is easily confused with
    confusable_with: Mapped[list] = mapped_column(JsonType, default=list)  # keys of those codes
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("authorization_codes.id"))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("authorization_codes.id"))
    withdrawal_policy: Mapped[str | None] = mapped_column(String(16))  # "hidden" | "removed"
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    category: Mapped[AuthorizationCategory | None] = relationship()


class AuthorizationSource(StrEnum):
    REQUEST = "request"  # came through the request process
    IMPORT = "import"  # brought in from an existing list
    RECONCILIATION = "reconciliation"  # found in Suomi.fi but missing here, added by the pääkäyttäjä


class Authorization(Base):
    __tablename__ = "authorizations"
    __table_args__ = (
        Index("ix_authorizations_org_status_until", "organisation_id", "status", "valid_until"),
        Index("ix_authorizations_org_status_review", "organisation_id", "status", "next_review_on"),
        Index("ix_authorizations_org_holder_name", "organisation_id", "holder_name", "id"),
        # covering for the summary's grouping (status × code × unit) and for directors' scope
        Index("ix_authorizations_org_unit_status", "organisation_id", "unit_id", "status", "code_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    # The holder's name and unit, copied for the registry's lists (kept in step by registry.sync_holders):
    # sorting 100,000 rows by name or scoping them to a director's units then needs no join.
    holder_name: Mapped[str] = mapped_column(String(200), default="")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    code_id: Mapped[int] = mapped_column(ForeignKey("authorization_codes.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    mandate_type: Mapped[str | None] = mapped_column(String(40))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    justification: Mapped[str] = mapped_column(Text, default="")
    registered_on: Mapped[date | None] = mapped_column(Date)
    closing_reason: Mapped[str] = mapped_column(Text, default="")
    request_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")  # the pääkäyttäjä's remarks (Huomautukset)
    source: Mapped[str] = mapped_column(String(16), default=AuthorizationSource.REQUEST.value)
    last_reviewed_on: Mapped[date | None] = mapped_column(Date)
    next_review_on: Mapped[date | None] = mapped_column(Date)
    # a review or revocation under way for this authorization (the registry shows it as pending)
    open_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    renewal_offered_days: Mapped[int | None] = mapped_column(Integer)  # the last offer: 60, 30 or 7 days before
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    code: Mapped[AuthorizationCode] = relationship()  # lists load it with joinedload


class ImportUpload(Base):
    """An uploaded spreadsheet kept between preview and confirmation (deleted once used)."""

    __tablename__ = "import_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "authorizations" | "suomifi"
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    options: Mapped[dict] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReviewItem(Base):
    """One authorization in one review round: pending until someone decides (then nobody else sees it pending)."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("instance_id", "authorization_id"),
        Index("ix_review_items_org_pending", "organisation_id", "decision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("authorizations.id"), index=True)
    decision: Mapped[str | None] = mapped_column(String(16))  # None (pending) | keep | change_end | revoke
    new_valid_until: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: the default on silence
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": lock_version}


class HrEvent(Base):
    """A joiner, mover or leaver event from HR, kept by its id so that delivering it twice starts nothing twice."""

    __tablename__ = "hr_events"
    __table_args__ = (UniqueConstraint("organisation_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # joiner | mover | leaver
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    payload: Mapped[dict] = mapped_column(JsonType, default=dict)
    effective_on: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    result: Mapped[dict] = mapped_column(JsonType, default=dict)
