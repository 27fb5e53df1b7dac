"""The organisation directory: organisations, units, people and their roles."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JsonType


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[dict] = mapped_column(JsonType)  # {"fi": …, "sv": …, "en": …}
    business_id: Mapped[str] = mapped_column(String(16))
    languages: Mapped[list] = mapped_column(JsonType)
    settings: Mapped[dict] = mapped_column(JsonType, default=dict)


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[dict] = mapped_column(JsonType)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    director_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", use_alter=True, name="fk_units_director_id_people")
    )
    deputy_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", use_alter=True, name="fk_units_deputy_id_people")
    )

    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("organisation_id", "email"),
        Index("ix_people_oidc_subject", "organisation_id", "oidc_subject", unique=True),  # NULLs never collide
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    language: Mapped[str] = mapped_column(String(2), default="fi")
    title: Mapped[dict] = mapped_column(JsonType, default=dict)
    demo_note: Mapped[dict] = mapped_column(JsonType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(255))  # stable id at the OpenID provider (first sign-in)

    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    roles: Mapped[list[PersonRole]] = relationship(cascade="all, delete-orphan")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}


class PersonRole(Base):
    """Assigned roles (administrator, process_owner). Supervisor and director are derived."""

    __tablename__ = "person_roles"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
