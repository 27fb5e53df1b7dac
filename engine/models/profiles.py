"""Role profiles (tehtäväroolit): a job and the authorization codes it normally needs, with a reason per code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JsonType, UtcDateTime, utcnow
from .registry import AuthorizationCode


class RoleProfile(Base):
    __tablename__ = "role_profiles"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[dict] = mapped_column(JsonType)  # {fi, sv, en}
    description: Mapped[dict] = mapped_column(JsonType, default=dict)  # {fi, sv, en}
    # title words or phrases (fi, sv) that match an HR job title, e.g. "palkanlaskija", "lönekalkylerare"
    job_titles: Mapped[list] = mapped_column(JsonType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    codes: Mapped[list[RoleProfileCode]] = relationship(
        back_populates="profile", cascade="all, delete-orphan", order_by="RoleProfileCode.id"
    )


class RoleProfileCode(Base):
    __tablename__ = "role_profile_codes"
    __table_args__ = (UniqueConstraint("profile_id", "code_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("role_profiles.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("authorization_codes.id"), index=True)
    reason: Mapped[dict] = mapped_column(JsonType, default=dict)  # why the job needs it, {fi, sv, en}

    profile: Mapped[RoleProfile] = relationship(back_populates="codes")
    code: Mapped[AuthorizationCode] = relationship()
