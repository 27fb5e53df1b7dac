"""Introducing a new authorization code the municipality proposes as a service provider (DVV's guide, five steps).

processes/code_introduction runs it: the process owner drafts the proposal (the code enters the catalog as a
draft, which no request offers), sends it to DVV, records DVV's validation – corrections go round as often as DVV
asks –, records when the code reached the customer test environment, agrees the production date, and on that day
confirms that the code is in production: only then does it become active and requestable.

Every dated step is an audit event ``code_introduction.<step>`` of the instance (the proposals page reads those)
and is kept in the instance's data under ``introduction`` (what the operations return).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, queries
from .clock import local_date
from .errors import EngineError, NotAllowedError
from .models import AuthorizationCategory, AuthorizationCode, HumanTask, HumanTaskOwner, Organisation, TaskStatus
from .models.registry import MandateType
from .operations import OperationContext, operation
from .revocation import start_of_day

PROCESS = "code_introduction"
STARTERS = ("process_owner", "administrator")
DRAFT, ACTIVE = "draft", "active"
LANGUAGES = ("fi", "sv", "en")
DATED_STEPS = ("sent_to_dvv", "customer_test")  # recorded by record_step; the others have operations of their own
VALIDATION_RESULTS = ("accepted", "corrections_requested")


def may_start(actor: queries.User) -> bool:
    return any(actor.has(role) for role in STARTERS)


def start_code_introduction(host, actor_id: int) -> tuple[int, str | None]:
    """A process owner or pääkäyttäjä starts a new proposal. Returns the instance id and the id of the first task
    ("Laadi valtuusasiaehdotus"), which is the starter's. NotAllowedError for anyone else."""
    with host.db.unit_of_work() as session:
        actor = queries.user(session, actor_id)
        if actor is None or not may_start(actor):
            raise NotAllowedError("only a process owner or a pääkäyttäjä may propose an authorization code")
        instance_id = host.start_system_process(
            PROCESS, actor.organisation_id, data={"introduction": {}}, started_by=actor.id, session=session
        )
        session.flush()  # the new task and its owners
        task_id = session.scalar(
            select(HumanTask.id)
            .join(HumanTaskOwner, HumanTaskOwner.task_id == HumanTask.id)
            .where(
                HumanTask.instance_id == instance_id,
                HumanTask.status == TaskStatus.READY.value,
                HumanTaskOwner.person_id == actor.id,
            )
            .limit(1)
        )
        return instance_id, task_id


# --- the catalog ------------------------------------------------------------------------------------------


def _slug(text: str, limit: int) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:limit].rstrip("_") or "koodi"


def _unique(session: Session, model, organisation_id: int, base: str, limit: int) -> str:
    taken = set(session.scalars(select(model.key).where(model.organisation_id == organisation_id)))
    key, n = base[:limit], 1
    while key in taken:
        n += 1
        key = f"{base[: limit - len(str(n)) - 1]}_{n}"
    return key


def _category(session: Session, organisation_id: int, text: str) -> AuthorizationCategory:
    """The category the proposal names – an existing one by key or name in any language – or a new one."""
    wanted = " ".join(text.split()).casefold()
    categories = list(
        session.scalars(select(AuthorizationCategory).where(AuthorizationCategory.organisation_id == organisation_id))
    )
    for category in categories:
        names = {category.key.casefold(), *(str(n).casefold() for n in (category.name or {}).values())}
        if wanted in names:
            return category
    key = _unique(session, AuthorizationCategory, organisation_id, _slug(text, 64), 64)
    category = AuthorizationCategory(organisation_id=organisation_id, key=key, name={"fi": " ".join(text.split())})
    session.add(category)
    session.flush()
    return category


def _proposal(data: dict) -> dict:
    """The proposal's fields from the form data (the form has checked them)."""
    mandate_type = data.get("code_mandate_type") or MandateType.TRANSACTION.value
    if mandate_type not in {m.value for m in MandateType}:
        raise EngineError(f"unknown mandate type {mandate_type!r}")
    return {
        "name": {lang: str(data.get(f"code_name_{lang}", "")).strip() for lang in LANGUAGES},
        "description": {lang: str(data.get(f"code_description_{lang}", "")).strip() for lang in LANGUAGES},
        "category": str(data.get("code_category", "")).strip(),
        "mandate_type": mandate_type,
        "e_service": str(data.get("e_service", "")).strip(),
        "rationale": str(data.get("rationale", "")).strip(),
    }


def _code(ctx: OperationContext, introduction: dict) -> AuthorizationCode:
    code = ctx.session.get(AuthorizationCode, int((introduction.get("code") or {}).get("id", 0)))
    if code is None or code.organisation_id != ctx.organisation_id:
        raise EngineError("the proposed code does not exist in this organisation")
    return code


def _event(ctx: OperationContext, step: str, code: AuthorizationCode, **details) -> None:
    audit.record(
        ctx.session,
        ctx.organisation_id,
        f"code_introduction.{step}",
        actor_id=ctx.actor_id,
        instance_id=ctx.instance_id,
        details={"code": code.key, "code_id": code.id, **details},
        at=ctx.now,
    )


# --- the operations the diagram calls ---------------------------------------------------------------------


@operation("code_introduction.save_proposal")
def save_proposal(ctx: OperationContext, introduction: dict):
    """Put the drafted or corrected proposal in the catalog as a draft code (audit "code_introduction.proposed" or
    "code_introduction.corrected")."""
    proposal = _proposal(ctx.data)
    category = _category(ctx.session, ctx.organisation_id, proposal["category"])
    first = not introduction.get("code")
    if first:
        org = ctx.session.get(Organisation, ctx.organisation_id)
        base = f"{org.key}_{_slug(proposal['name']['fi'], 80)}"
        code = AuthorizationCode(
            organisation_id=ctx.organisation_id,
            key=_unique(ctx.session, AuthorizationCode, ctx.organisation_id, base, 100),
            agency=(org.name or {}).get("fi", org.key)[:100],
            status=DRAFT,
            verified=False,
        )
        ctx.session.add(code)
    else:
        code = _code(ctx, introduction)
        if code.status != DRAFT:
            raise EngineError(f"code {code.key} is no longer a draft; it cannot be changed")
    code.name, code.description = proposal["name"], proposal["description"]
    code.category_id, code.mandate_type = category.id, proposal["mandate_type"]
    ctx.session.flush()
    rounds = len(introduction.get("rounds", []))
    details = {"name": code.name, "category": category.key, "e_service": proposal["e_service"]}
    if first:
        _event(ctx, "proposed", code, **details, rationale=proposal["rationale"])
    else:
        _event(ctx, "corrected", code, **details, round=rounds, note=str(ctx.data.get("correction_note", "")))
    return {
        **introduction,
        "code": {"id": code.id, "key": code.key, "name": code.name},
        "e_service": proposal["e_service"],
        "dates": {**introduction.get("dates", {}), "proposed_on" if first else "corrected_on": _today(ctx)},
    }


@operation("code_introduction.record_step")
def record_step(ctx: OperationContext, introduction: dict, step: str, on: str):
    """Record a dated step – sent to DVV, in the customer test environment (audit "code_introduction.<step>")."""
    if step not in DATED_STEPS:
        raise EngineError(f"unknown code introduction step {step!r}")
    code = _code(ctx, introduction)
    day = _date(on)
    note = str(ctx.data.get(f"{step}_note", "")).strip()
    _event(ctx, step, code, on=day, note=note, round=len(introduction.get("rounds", [])) + 1)
    return {**introduction, "dates": {**introduction.get("dates", {}), f"{step}_on": day}}


@operation("code_introduction.record_validation")
def record_validation(ctx: OperationContext, introduction: dict, result: str, received_on: str):
    """Record one round of DVV's validation: accepted, or corrections with DVV's remarks (audit
    "code_introduction.validated")."""
    if result not in VALIDATION_RESULTS:
        raise EngineError(f"unknown validation result {result!r}")
    code = _code(ctx, introduction)
    rounds = list(introduction.get("rounds", []))
    entry = {
        "round": len(rounds) + 1,
        "sent_on": introduction.get("dates", {}).get("sent_to_dvv_on"),
        "received_on": _date(received_on),
        "result": result,
        "remarks": str(ctx.data.get("dvv_remarks", "")).strip() if result != "accepted" else "",
    }
    _event(ctx, "validated", code, **entry)
    dates = introduction.get("dates", {})
    if result == "accepted":
        dates = {**dates, "validated_on": entry["received_on"]}
    return {**introduction, "rounds": [*rounds, entry], "dates": dates}


@operation("code_introduction.schedule_production")
def schedule_production(ctx: OperationContext, introduction: dict, production_on: str, agreed_on: str):
    """Record the production date agreed with DVV; the diagram's timer waits until that day begins in Finland
    (audit "code_introduction.production_agreed")."""
    code = _code(ctx, introduction)
    day = date.fromisoformat(_date(production_on))
    _event(ctx, "production_agreed", code, on=day.isoformat(), agreed_on=_date(agreed_on))
    return {
        **introduction,
        "dates": {
            **introduction.get("dates", {}),
            "production_agreed_on": _date(agreed_on),
            "production_on": day.isoformat(),
        },
        "production_starts_at": start_of_day(day).isoformat(),
    }


@operation("code_introduction.record_postponed")
def record_postponed(ctx: OperationContext, introduction: dict):
    """Going into production did not happen on the agreed day; a new date is agreed next (audit
    "code_introduction.production_postponed")."""
    code = _code(ctx, introduction)
    planned = introduction.get("dates", {}).get("production_on")
    _event(ctx, "production_postponed", code, planned_on=planned, note=str(ctx.data.get("production_note", "")))
    return {**introduction, "postponed": [*introduction.get("postponed", []), planned]}


@operation("code_introduction.activate")
def activate(ctx: OperationContext, introduction: dict, in_production_on: str):
    """DVV has authorised the code in production: the draft code becomes active and requestable (audit
    "code_introduction.in_production" with the status change)."""
    code = _code(ctx, introduction)
    old = code.status
    if code.status == DRAFT:
        code.status = ACTIVE
    _event(ctx, "in_production", code, on=_date(in_production_on), **{"from": old, "to": code.status})
    return {**introduction, "dates": {**introduction.get("dates", {}), "in_production_on": _date(in_production_on)}}


def _date(value) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as err:
        raise EngineError(f"{value!r} is not a date") from err


def _today(ctx: OperationContext) -> str:
    return local_date(ctx.now).isoformat()
