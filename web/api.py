"""The integration API /api/v1: JSON for other systems, authenticated with ``Authorization: Bearer <token>``.

Tokens are created by the pääkäyttäjä at /admin/api-tokens (engine/api_tokens.py); each belongs to one
organisation and carries scopes: ``read`` (the GET endpoints), ``hr-events`` (POST /hr-events), ``requests``
(POST /requests) and ``catalog`` (PATCH /codes/<id>). Errors are RFC 9457 problem details. Lists are
keyset-paginated by id with an opaque cursor. Writes accept an ``Idempotency-Key``. Every authenticated call is
audited as ``api.call``. The API speaks English (no ``_()`` here). The OpenAPI document is generated from the
marshmallow schemas below (openapi.json, docs).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from functools import wraps

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from engine import api_tokens, audit, catalog, hr_events
from engine.clock import local_date
from engine.errors import ConflictError, FormValidationError, NotAllowedError, NotFoundError
from engine.models import (
    AuthorizationCategory,
    AuthorizationCode,
    HumanTask,
    HumanTaskOwner,
    Person,
    ProcessInstance,
    TaskStatus,
    Unit,
)
from engine.overview import RegistryFilter, organisation_scope, registry_after

from .host import host
from .security import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PROBLEM = "application/problem+json"
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
PUBLIC_ENDPOINTS = {"api.openapi", "api.docs"}
REGISTRY_FILTERS = ("unit", "person", "code", "category", "status", "expiring", "overdue", "no_end", "q")


# -- schemas ----------------------------------------------------------------------------------------------


class LocalizedField(fields.Dict):
    """A name per language: {"fi": …, "sv": …, "en": …}."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=fields.String(), **kwargs)


class ProblemSchema(Schema):
    type = fields.String(required=True, metadata={"description": "a URI reference; about:blank when generic"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.List(fields.Dict(), metadata={"description": "validation failures: field, message"})

    class Meta:
        unknown = "include"  # extension members (event_id, result) are allowed


class RefSchema(Schema):
    id = fields.Integer(required=True)
    key = fields.String()
    name = LocalizedField()


class HolderSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)


class AuthorizationSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    mandate_type = fields.String(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    next_review_on = fields.Date(allow_none=True)
    source = fields.String(required=True)
    holder = fields.Nested(HolderSchema, required=True)
    unit = fields.Nested(RefSchema, allow_none=True)
    code = fields.Nested(RefSchema, required=True)
    category = fields.Nested(RefSchema, allow_none=True)
    request_instance_id = fields.Integer(allow_none=True)
    pending_instance_id = fields.Integer(allow_none=True, metadata={"description": "a process under way"})


class PersonSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    unit_id = fields.Integer(allow_none=True)
    supervisor_id = fields.Integer(allow_none=True)
    language = fields.String(required=True)
    title = LocalizedField()
    active = fields.Boolean(required=True)
    roles = fields.List(fields.String(), required=True)


class PersonDetailSchema(PersonSchema):
    authorizations = fields.List(fields.Nested(AuthorizationSchema), required=True)


class UnitSchema(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    name = LocalizedField(required=True)
    parent_id = fields.Integer(allow_none=True)
    director_id = fields.Integer(allow_none=True)
    deputy_id = fields.Integer(allow_none=True)


class CodeSchema(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    name = LocalizedField(required=True)
    description = LocalizedField()
    agency = fields.String()
    mandate_type = fields.String()
    status = fields.String(metadata={"description": "draft, active, hidden (no new requests) or withdrawn"})
    category = fields.Nested(RefSchema, allow_none=True)
    services = fields.List(fields.String(), metadata={"description": "the e-services it is used in"})
    warning = LocalizedField(metadata={"description": "what it is easily confused with"})
    confusable_with = fields.List(fields.String(), metadata={"description": "keys of codes it is confused with"})
    replaces_id = fields.Integer(allow_none=True)
    replaced_by_id = fields.Integer(allow_none=True)
    verified = fields.Boolean()
    description_verified = fields.Boolean()
    withdrawn_on = fields.Date(allow_none=True)


class CodePatchSchema(Schema):
    """Fields to change (scope catalog). key, name and description are refused (409) once any authorization
    uses the code: a changed code is a new code that replaces it."""

    key = fields.String(validate=validate.Length(1, 100))
    name = LocalizedField()
    description = LocalizedField()
    agency = fields.String(validate=validate.Length(0, 100))
    mandate_type = fields.String(validate=validate.OneOf(["transaction", "granting_right", "representation",
                                                          "representative_granting_right"]))
    category_id = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 2**31 - 1))
    services = fields.List(fields.String(validate=validate.Length(0, 200)), validate=validate.Length(0, 50))
    warning = LocalizedField()
    confusable_with = fields.List(fields.String(validate=validate.Length(1, 100)), validate=validate.Length(0, 20))
    verified = fields.Boolean(truthy={True}, falsy={False})
    description_verified = fields.Boolean(truthy={True}, falsy={False})


class TaskSchema(Schema):
    id = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    step = fields.String(required=True, metadata={"description": "the BPMN id of the step"})
    name = fields.String(required=True)
    names = LocalizedField()
    role = fields.String()
    subject_id = fields.Integer(allow_none=True)
    owner_ids = fields.List(fields.Integer(), required=True)
    created_at = fields.DateTime(required=True)


def _page_schema(name: str, item: type[Schema]) -> type[Schema]:
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next": fields.String(allow_none=True, required=True, metadata={"description": "the next page's URL"}),
        },
        name=name,
    )


AuthorizationPage = _page_schema("AuthorizationPage", AuthorizationSchema)
PersonPage = _page_schema("PersonPage", PersonSchema)
UnitPage = _page_schema("UnitPage", UnitSchema)
CodePage = _page_schema("CodePage", CodeSchema)
TaskPage = _page_schema("TaskPage", TaskSchema)


class HrEventSchema(Schema):
    """One HR event (as in POST /api/hr/events); engine.hr_events checks the rest and says why it refuses."""

    event_id = fields.String(required=True, validate=validate.Length(1, 100))
    type = fields.String(required=True, validate=validate.OneOf(["joiner", "mover", "leaver"]))
    email = fields.String(required=True, validate=validate.Length(1, 254))
    name = fields.String()
    unit = fields.String()
    title = fields.String()
    date = fields.String(metadata={"description": "YYYY-MM-DD"})
    supervisor = fields.String()

    class Meta:
        unknown = "include"


class HrEventResultSchema(Schema):
    event_id = fields.String(allow_none=True)
    status = fields.String(required=True)
    duplicate = fields.Boolean()
    reason = fields.String()

    class Meta:
        unknown = "include"


class RequestStartSchema(Schema):
    holder_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, 2**31 - 1),
                               metadata={"description": "the person the request is for"})
    codes = fields.List(fields.Integer(strict=True, validate=validate.Range(1, 2**31 - 1)), required=True,
                        validate=validate.Length(1, 20))
    justification = fields.String(required=True, validate=validate.Length(1, 2000))
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)


class RequestStartedSchema(Schema):
    instance_id = fields.Integer(required=True)
    status = fields.String(required=True)
    ready_task_ids = fields.List(fields.String(), required=True)


SCHEMAS = [
    ProblemSchema, AuthorizationSchema, PersonSchema, PersonDetailSchema, UnitSchema, CodeSchema, TaskSchema,
    AuthorizationPage, PersonPage, UnitPage, CodePage, TaskPage, HrEventSchema, HrEventResultSchema, CodePatchSchema,
    RequestStartSchema, RequestStartedSchema,
]


# -- problems ---------------------------------------------------------------------------------------------


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str = "", *, errors=None, headers=None, **extra):
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers, self.extra = errors, headers or {}, extra


def problem_response(p: Problem) -> Response:
    body = {"type": "about:blank", "title": p.title, "status": p.status}
    if p.detail:
        body["detail"] = p.detail
    if p.errors is not None:
        body["errors"] = p.errors
    body.update(p.extra)
    response = Response(json.dumps(body), status=p.status, mimetype=PROBLEM)
    for name, value in p.headers.items():
        response.headers[name] = value
    return response


def _field_errors(messages, prefix: str = "") -> list[dict]:
    """marshmallow's nested messages as a flat list of {field, message}."""
    out = []
    if isinstance(messages, dict):
        for name, value in messages.items():
            out += _field_errors(value, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(messages, list):
        for value in messages:
            out += _field_errors(value, prefix) if isinstance(value, (dict, list)) else [
                {"field": prefix, "message": str(value)}
            ]
    else:
        out.append({"field": prefix, "message": str(messages)})
    return out


def validation_problem(errors: list[dict], detail: str = "the request has invalid fields") -> Problem:
    return Problem(422, "Validation failed", detail, errors=errors)


@bp.errorhandler(Problem)
def _problem(err: Problem):
    return problem_response(err)


@bp.errorhandler(HTTPException)
def _http(err: HTTPException):
    return problem_response(Problem(err.code or 500, err.name, err.description or ""))


@bp.errorhandler(Exception)
def _unexpected(err: Exception):
    current_app.logger.exception("API error")
    return problem_response(Problem(500, "Internal Server Error", "the error was logged"))


# -- authentication, rate limit, audit --------------------------------------------------------------------


def _limiter() -> api_tokens.RateLimiter:
    limiter = current_app.extensions.get("valtuus_api_limiter")
    if limiter is None:
        limit = int(current_app.config.get("API_RATE_LIMIT") or os.environ.get("VALTUUS_API_RATE_LIMIT") or 600)
        window = int(current_app.config.get("API_RATE_WINDOW") or 60)
        limiter = current_app.extensions["valtuus_api_limiter"] = api_tokens.RateLimiter(limit, window)
    return limiter


def _bearer() -> str:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@bp.before_request
def _authenticate():
    g.api_caller = None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    with host().db.reader() as session:
        caller = api_tokens.authenticate(session, _bearer())
    if caller is None:  # no organisation to audit it under: the server log keeps it (an operator watches for floods)
        current_app.logger.warning(
            "API call refused without a valid token: %s %s from %s", request.method, request.path,
            request.remote_addr,
        )
        return problem_response(
            Problem(
                401, "Unauthorized", "a valid bearer token is required",
                headers={"WWW-Authenticate": 'Bearer realm="valtuushallinta"'},
            )
        )
    g.api_caller = caller
    g.api_started = time.perf_counter()
    retry_after = _limiter().hit(caller.token_id)
    if retry_after is not None:
        return problem_response(
            Problem(429, "Too Many Requests", "the token's rate limit was exceeded",
                    headers={"Retry-After": str(retry_after)})
        )
    return None


@bp.after_request
def _audit(response: Response):
    caller = g.get("api_caller")
    if caller is not None:
        now = host().clock()
        try:
            with host().db.unit_of_work() as session:
                audit.record(
                    session, caller.organisation_id, "api.call",
                    details={
                        "token_id": caller.token_id, "method": request.method, "path": request.path,
                        "status": response.status_code,
                        "ms": round((time.perf_counter() - g.api_started) * 1000, 1),
                    },
                    at=now,
                )
                api_tokens.touch(session, caller.token_id, now)
        except Exception:  # noqa: BLE001 – the answer stands; the failure is logged
            current_app.logger.exception("could not audit an API call")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def requires(scope: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if scope not in g.api_caller.scopes:
                raise Problem(403, "Forbidden", f'the token lacks the scope "{scope}"')
            return view(*args, **kwargs)

        return wrapped

    return decorator


# -- pagination -------------------------------------------------------------------------------------------


def _encode_cursor(last) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last}).encode()).decode().rstrip("=")


def _decode_cursor(kind: type):
    raw = request.args.get("cursor", "")
    if not raw:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and not 0 <= value <= MAX_ID):
        raise validation_problem([{"field": "cursor", "message": "not a cursor this API gave"}], "invalid cursor")
    return value


def _limit() -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise validation_problem([{"field": "limit", "message": f"an integer from 1 to {MAX_LIMIT}"}])
    return int(raw)


def _page(items: list, limit: int, last_key, schema: type[Schema]) -> dict:
    next_url = None
    if len(items) > limit:
        items = items[:limit]
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        next_url = url_for(request.endpoint, **args, cursor=_encode_cursor(last_key(items[-1])), _external=False)
    return schema().dump({"items": items, "next": next_url})


# -- read endpoints ---------------------------------------------------------------------------------------


def _ref(obj) -> dict | None:
    return None if obj is None else {"id": obj.id, "key": obj.key, "name": obj.name or {}}


def _authorization(row) -> dict:
    return {
        "id": row.id,
        "status": row.status,
        "mandate_type": row.mandate_type,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "next_review_on": row.next_review_on,
        "source": row.source,
        "holder": {"id": row.holder_id, "name": row.holder_name, "email": row.holder_email},
        "unit": _ref(row.unit),
        "code": _ref(row.code),
        "category": _ref(row.category),
        "request_instance_id": row.request_instance_id,
        "pending_instance_id": row.pending_instance_id,
    }


def _registry_filter() -> RegistryFilter:
    flt, bad = RegistryFilter.from_args({k: request.args.get(k, "") for k in REGISTRY_FILTERS})
    if bad:
        raise validation_problem([{"field": name, "message": "not understood"} for name in bad], "invalid filter")
    return flt


@bp.get("/authorizations")
@requires("read")
def authorizations():
    """The registry with its filters (unit, person, code, category, status, expiring, overdue, no_end, q)."""
    flt, limit, after = _registry_filter(), _limit(), _decode_cursor(int) or 0
    scope = organisation_scope(g.api_caller.organisation_id)
    with host().db.reader() as session:
        rows = registry_after(session, scope, flt, today=local_date(host().clock()), after_id=after, limit=limit + 1)
    return _page([_authorization(r) for r in rows], limit, lambda item: item["id"], AuthorizationPage)


def _one_authorization(session, authorization_id: int):
    if not 1 <= authorization_id <= MAX_ID:
        raise Problem(404, "Not Found", "no such authorization in this organisation")
    scope = organisation_scope(g.api_caller.organisation_id)
    found = registry_after(
        session, scope, RegistryFilter(), today=local_date(host().clock()), after_id=authorization_id - 1, limit=1
    )
    if not found or found[0].id != authorization_id:
        raise Problem(404, "Not Found", "no such authorization in this organisation")
    return found[0]


@bp.get("/authorizations/<int:authorization_id>")
@requires("read")
def authorization(authorization_id: int):
    with host().db.reader() as session:
        row = _one_authorization(session, authorization_id)
    return AuthorizationSchema().dump(_authorization(row))


def _rows_after(session, model, after: int, limit: int) -> list:
    """The caller's organisation's rows of ``model`` after the cursor id, one more than a page (to tell if more)."""
    return session.scalars(
        select(model)
        .where(model.organisation_id == g.api_caller.organisation_id, model.id > after)
        .order_by(model.id)
        .limit(limit + 1)
    ).all()


def _person(p: Person) -> dict:
    return {
        "id": p.id, "name": p.name, "email": p.email, "unit_id": p.unit_id, "supervisor_id": p.supervisor_id,
        "language": p.language, "title": p.title or {}, "active": p.active, "roles": sorted(r.role for r in p.roles),
    }


@bp.get("/people")
@requires("read")
def people():
    limit, after = _limit(), _decode_cursor(int) or 0
    with host().db.reader() as session:
        items = [_person(p) for p in _rows_after(session, Person, after, limit)]
    return _page(items, limit, lambda item: item["id"], PersonPage)


@bp.get("/people/<int:person_id>")
@requires("read")
def person(person_id: int):
    caller = g.api_caller
    with host().db.reader() as session:
        found = session.get(Person, person_id) if 1 <= person_id <= MAX_ID else None
        if found is None or found.organisation_id != caller.organisation_id:
            raise Problem(404, "Not Found", "no such person in this organisation")
        item = _person(found)
        rows = registry_after(
            session, organisation_scope(caller.organisation_id), RegistryFilter(person=person_id),
            today=local_date(host().clock()), limit=10_000,
        )
        item["authorizations"] = [_authorization(r) for r in rows]
    return PersonDetailSchema().dump(item)


@bp.get("/units")
@requires("read")
def units():
    limit, after = _limit(), _decode_cursor(int) or 0
    with host().db.reader() as session:
        items = [
            {"id": u.id, "key": u.key, "name": u.name or {}, "parent_id": u.parent_id, "director_id": u.director_id,
             "deputy_id": u.deputy_id}
            for u in _rows_after(session, Unit, after, limit)
        ]
    return _page(items, limit, lambda item: item["id"], UnitPage)


@bp.get("/codes")
@requires("read")
def codes():
    limit, after = _limit(), _decode_cursor(int) or 0
    organisation_id = g.api_caller.organisation_id
    with host().db.reader() as session:
        categories = {
            c.id: c for c in session.scalars(
                select(AuthorizationCategory).where(AuthorizationCategory.organisation_id == organisation_id)
            )
        }
        items = [_code(c, categories.get(c.category_id)) for c in _rows_after(session, AuthorizationCode, after, limit)]
    return _page(items, limit, lambda item: item["id"], CodePage)


def _code(c: AuthorizationCode, category) -> dict:
    return {
        "id": c.id, "key": c.key, "name": c.name or {}, "description": c.description or {}, "agency": c.agency,
        "mandate_type": c.mandate_type, "status": c.status, "category": _ref(category),
        "services": c.services or [], "warning": c.warning or {}, "confusable_with": c.confusable_with or [],
        "replaces_id": c.replaces_id, "replaced_by_id": c.replaced_by_id, "verified": bool(c.verified),
        "description_verified": bool(c.description_verified), "withdrawn_on": c.withdrawn_on,
    }


@bp.patch("/codes/<int:code_id>")
@requires("catalog")
def update_code(code_id: int):
    """Change a code's fields (scope catalog); 409 when key, name or description would change on a code in use."""
    body = _json_body()
    try:
        changes = CodePatchSchema().load(body)
    except ValidationError as err:
        raise validation_problem(_field_errors(err.messages)) from err
    caller = g.api_caller
    if not 1 <= code_id <= MAX_ID:
        raise Problem(404, "Not Found", "no such code in this organisation")
    try:
        with host().db.unit_of_work() as session:
            code = catalog.update_code(session, caller.organisation_id, code_id, changes, actor_id=None,
                                       now=host().clock(), via={"api_token": caller.token_id, "name": caller.name})
            item = _code(code, session.get(AuthorizationCategory, code.category_id) if code.category_id else None)
    except NotFoundError as err:
        raise Problem(404, "Not Found", "no such code in this organisation") from err
    except catalog.CodeInUseError as err:
        raise Problem(409, "Code in use", "authorizations use this code: its key, name and description cannot "
                      "change; create a new code that replaces it", fields=err.params.get("fields", []),
                      authorizations=err.params.get("authorizations", 0)) from err
    except catalog.CatalogInputError as err:
        raise validation_problem([{"field": err.params.get("field", ""), "message": str(err)}]) from err
    except ConflictError as err:
        raise Problem(409, "Conflict", str(err)) from err
    return CodeSchema().dump(item)


@bp.get("/tasks")
@requires("read")
def open_tasks():
    """Human tasks of the organisation waiting for someone (ready), in id order."""
    limit, after = _limit(), _decode_cursor(str) or ""
    organisation_id = g.api_caller.organisation_id
    with host().db.reader() as session:
        found = session.execute(
            select(HumanTask, ProcessInstance.process_id, ProcessInstance.subject_person_id)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(
                HumanTask.organisation_id == organisation_id,
                HumanTask.status == TaskStatus.READY.value,
                HumanTask.id > after,
            )
            .order_by(HumanTask.id)
            .limit(limit + 1)
        ).all()
        owners: dict[str, list[int]] = {}
        for task_id, person_id in session.execute(
            select(HumanTaskOwner.task_id, HumanTaskOwner.person_id)
            .where(HumanTaskOwner.task_id.in_([t.id for t, _p, _s in found]))
            .order_by(HumanTaskOwner.person_id)
        ):
            owners.setdefault(task_id, []).append(person_id)
        items = [
            {"id": t.id, "instance_id": t.instance_id, "process_id": process_id, "step": t.bpmn_id, "name": t.name,
             "names": t.names or {}, "role": t.role, "subject_id": subject_id, "owner_ids": owners.get(t.id, []),
             "created_at": t.created_at}
            for t, process_id, subject_id in found
        ]
    return _page(items, limit, lambda item: item["id"], TaskPage)


# -- writes -----------------------------------------------------------------------------------------------


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "the body must be a JSON object (Content-Type: application/json)")
    return body


def idempotent(view):
    """With an Idempotency-Key header: the same key and body within 24 hours answers the stored response;
    the same key with another body is a 422 problem. Responses of 5xx are not stored (the call may be retried)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200:
            raise validation_problem([{"field": "Idempotency-Key", "message": "at most 200 characters"}])
        caller, now = g.api_caller, host().clock()
        digest = api_tokens.request_hash(request.method, request.path, request.get_json(silent=True))
        with host().db.unit_of_work() as session:
            stored = api_tokens.stored_response(session, caller.token_id, key, now)
            earlier = None if stored is None else (stored.request_sha256, stored.status, stored.response)
        if earlier is not None:
            if earlier[0] != digest:
                raise Problem(422, "Idempotency key reused", "this Idempotency-Key was used with another request")
            return _replay(earlier[1], earlier[2])
        response = current_app.make_response(_call(view, *args, **kwargs))
        if response.status_code < 500:
            body = response.get_json(silent=True)
            if not api_tokens.store_response(host().db, caller, key, digest, response.status_code, body, now):
                with host().db.reader() as session:  # a simultaneous call with the key won: answer as it did
                    stored = api_tokens.stored_response(session, caller.token_id, key, now)
                    if stored is not None and stored.request_sha256 == digest:
                        return _replay(stored.status, stored.response)
        return response

    return wrapped


def _call(view, *args, **kwargs):
    try:
        return view(*args, **kwargs)
    except Problem as p:
        return problem_response(p)


def _replay(status: int, body) -> Response:
    mimetype = PROBLEM if status >= 400 else "application/json"
    response = Response(json.dumps(body), status=status, mimetype=mimetype)
    response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/hr-events")
@requires("hr-events")
@idempotent
def hr_event():
    """One joiner, mover or leaver event: applied once per event id (a duplicate answers the earlier result)."""
    body = _json_body()
    try:
        HrEventSchema().load(body)
    except ValidationError as err:
        raise validation_problem(_field_errors(err.messages)) from err
    result = hr_events.apply_event(host(), g.api_caller.organisation_id, body, source="api")
    if result["status"] == "rejected":
        raise Problem(422, "Event rejected", result.get("reason", ""), event_id=result.get("event_id"),
                      result=result)
    if result["status"] == "failed":
        raise Problem(500, "Event failed", "nothing was changed; the error was logged", event_id=result.get("event_id"))
    return HrEventResultSchema().dump(result), 200


@bp.post("/requests")
@requires("requests")
@idempotent
def start_request():
    """Start an authorization request on the holder's behalf, as if they had sent the first form."""
    body = _json_body()
    try:
        data = RequestStartSchema().load(body)
    except ValidationError as err:
        raise validation_problem(_field_errors(err.messages)) from err
    form = {
        "codes": data["codes"],
        "justification": data["justification"],
        "valid_from": data["valid_from"].isoformat(),
        "valid_until": data["valid_until"].isoformat(),
    }
    caller = g.api_caller
    try:
        result = host().start_request_for(
            caller.organisation_id, data["holder_id"], form, via={"api_token": caller.token_id, "name": caller.name}
        )
    except NotFoundError as err:
        raise Problem(404, "Not Found", "no such active person in this organisation") from err
    except NotAllowedError as err:
        raise Problem(403, "Forbidden", str(err)) from err
    except FormValidationError as err:
        errors = [
            {"field": name, "message": entry.get("code") or entry.get("message") or "invalid", **entry}
            for name, entries in err.errors.items() for entry in entries
        ]
        raise validation_problem(errors, "the request form did not pass validation") from err
    payload = {"instance_id": result.instance_id, "status": result.status, "ready_task_ids": result.ready_task_ids}
    return RequestStartedSchema().dump(payload), 201


# -- the OpenAPI document ---------------------------------------------------------------------------------


def _paths() -> list[tuple[str, str, dict]]:
    def ok(schema: str, code: int = 200) -> dict:
        return {str(code): {"description": "OK", "content": {"application/json": {"schema": schema}}}}

    def problems(*codes: int) -> dict:
        names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                 409: "Conflict", 422: "Validation failed", 429: "Too Many Requests"}
        return {str(c): {"description": names[c], "content": {PROBLEM: {"schema": "ProblemSchema"}}} for c in codes}

    def page_params(filters: bool = False) -> list[dict]:
        params = [
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
            {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        ]
        if filters:
            for name in ("unit", "person", "code", "category", "expiring"):
                params.append({"name": name, "in": "query", "schema": {"type": "integer", "minimum": 0}})
            params.append({"name": "status", "in": "query", "schema": {"type": "string"}})
            for name in ("overdue", "no_end"):
                params.append({"name": name, "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}})
            params.append({"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100}})
        return params

    def by_id(name: str, kind: str = "integer") -> list[dict]:
        return [{"name": name, "in": "path", "required": True, "schema": {"type": kind}}]

    read = problems(401, 403, 429)
    idem = [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}}]
    return [
        ("/authorizations", "get", {"summary": "The registry, filtered", "parameters": page_params(True),
                                    "responses": {**ok("AuthorizationPage"), **read, **problems(422)}}),
        ("/authorizations/{authorization_id}", "get", {
            "summary": "One authorization", "parameters": by_id("authorization_id"),
            "responses": {**ok("AuthorizationSchema"), **read, **problems(404)}}),
        ("/people", "get", {"summary": "People", "parameters": page_params(),
                            "responses": {**ok("PersonPage"), **read, **problems(422)}}),
        ("/people/{person_id}", "get", {"summary": "One person and their authorizations",
                                        "parameters": by_id("person_id"),
                                        "responses": {**ok("PersonDetailSchema"), **read, **problems(404)}}),
        ("/units", "get", {"summary": "Units", "parameters": page_params(),
                           "responses": {**ok("UnitPage"), **read, **problems(422)}}),
        ("/codes", "get", {"summary": "Authorization codes", "parameters": page_params(),
                           "responses": {**ok("CodePage"), **read, **problems(422)}}),
        ("/codes/{code_id}", "patch", {
            "summary": "Change a code (scope catalog); key, name and description are fixed once the code is in use",
            "parameters": by_id("code_id"),
            "requestBody": {"required": True, "content": {"application/json": {"schema": "CodePatchSchema"}}},
            "responses": {**ok("CodeSchema"), **read, **problems(400, 404, 409, 422)}}),
        ("/tasks", "get", {"summary": "Open human tasks", "parameters": page_params(),
                           "responses": {**ok("TaskPage"), **read, **problems(422)}}),
        ("/hr-events", "post", {
            "summary": "One HR event (scope hr-events)", "parameters": idem,
            "requestBody": {"required": True, "content": {"application/json": {"schema": "HrEventSchema"}}},
            "responses": {**ok("HrEventResultSchema"), **read, **problems(400, 422)}}),
        ("/requests", "post", {
            "summary": "Start a request on a person's behalf (scope requests)", "parameters": idem,
            "requestBody": {"required": True, "content": {"application/json": {"schema": "RequestStartSchema"}}},
            "responses": {**ok("RequestStartedSchema", 201), **read, **problems(400, 404, 422)}}),
    ]


def openapi_spec() -> dict:
    spec = APISpec(
        title="Valtuushallinta integration API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Suomi.fi e-authorizations of the organisation. Bearer token with scopes "
                             "read, hr-events, requests, catalog. Errors are RFC 9457 problem details."},
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for schema in SCHEMAS:
        spec.components.schema(schema.__name__, schema=schema)
    for path, method, operation in _paths():
        spec.path(path=path, operations={method: {**operation, "security": [{"bearer": []}]}})
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    return openapi_spec()


@bp.get("/docs")
def docs():
    spec = openapi_spec()
    return render_template("api/docs.html", spec=spec, pretty=lambda v: json.dumps(v, indent=2, ensure_ascii=False))
