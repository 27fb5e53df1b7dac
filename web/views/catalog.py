"""Valtuuskoodit: the catalog to browse and search (everyone signed in) and, for the pääkäyttäjä and the process
owner, the editor – create, edit (identifier, name and description locked once in use), replace and withdraw."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import catalog, catalog_read
from engine.catalog_fields import LANGUAGES, LIMITS
from engine.errors import ConflictError
from engine.models import AuthorizationCode, MandateType
from engine.models.registry import CodeStatus

from ..auth import login_required
from ..host import host
from ..i18n import current_language

bp = Blueprint("catalog", __name__, url_prefix="/catalog")
FORM_FIELDS = (*catalog.LOCKED_FIELDS, *catalog.EDITABLE_FIELDS)


@bp.app_template_global()
def code_status_label(value: str) -> str:
    return {
        "draft": _("Draft"),
        "active": _("In use"),
        "hidden": _("Hidden: no new requests"),
        "withdrawn": _("Withdrawn: authorizations invalidated"),
    }.get(value, value)


def _editor_required() -> None:
    if not catalog.may_edit(g.user):
        abort(403)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


@bp.get("")
@login_required
def index():
    q = request.args.get("q", "")[:200]
    category_id = _int_arg("category")
    statuses = catalog_read.visible_statuses(g.user)
    if request.args.get("withdrawn") == "1":
        statuses = (*statuses, CodeStatus.WITHDRAWN.value)
    with host().db.reader() as s:
        categories = catalog_read.categories(s, g.user.organisation_id)
        found = catalog_read.search(
            s, g.user.organisation_id, q, category_id=category_id, statuses=statuses, language=current_language()
        )
        groups = []
        for category in [*categories, None]:
            codes = [c for c in found if c.category_id == (category.id if category else None)]
            if codes:
                groups.append((category, codes))
        return render_template(
            "catalog/index.html",
            groups=groups,
            categories=categories,
            q=q,
            category_id=category_id,
            withdrawn=request.args.get("withdrawn") == "1",
            count=len(found),
            may_edit=catalog.may_edit(g.user),
        )


# --- the editor ---------------------------------------------------------------------------------------------


def _texts(prefix: str) -> dict:
    return {lang: request.form.get(f"{prefix}_{lang}", "") for lang in LANGUAGES}


def _form_values(locked: bool) -> dict:
    """The submitted fields as the engine takes them. A locked code's form does not send its locked fields
    (they are shown read-only); if they are sent anyway, the engine refuses the change."""
    values = {
        "agency": request.form.get("agency", ""),
        "mandate_type": request.form.get("mandate_type", ""),
        "services": request.form.get("services", "").splitlines(),
        "warning": _texts("warning"),
        "confusable_with": request.form.getlist("confusable_with"),
        "verified": request.form.get("verified") == "1",
        "description_verified": request.form.get("description_verified") == "1",
    }
    raw_category = request.form.get("category_id", "")
    values["category_id"] = int(raw_category) if raw_category.isdigit() and len(raw_category) < 10 else None
    if request.form.get("status") in (CodeStatus.DRAFT.value, CodeStatus.ACTIVE.value):
        values["status"] = request.form["status"]
    if not locked or "key" in request.form:
        values["key"] = request.form.get("key", "")
    if not locked or any(f"name_{lang}" in request.form for lang in LANGUAGES):
        values["name"] = _texts("name")
    if not locked or any(f"description_{lang}" in request.form for lang in LANGUAGES):
        values["description"] = _texts("description")
    return values


def _advice(name: dict, description: dict) -> list:
    """The description checker's advice on the guide's rules (engine/code_guide.py)."""
    from engine.code_guide import check_code

    return check_code(name or {}, description or {})


def _error_text(err: Exception) -> tuple[str, str]:
    """(field, message) for an engine refusal."""
    if isinstance(err, catalog.CodeInUseError):
        return "key", _(
            "The identifier, name and description cannot be changed: %(num)s authorizations use this code. "
            "Make a new code that replaces it instead.",
            num=err.params.get("authorizations", 0),
        )
    field = err.params.get("field", "")
    messages = {
        "key": _("The identifier is 3–100 characters of a–z, 0–9 and _, and no other code may have it."),
        "name": _("Give the name at least in Finnish (at most 200 characters per language)."),
        "description": _("The description is at most 2000 characters per language."),
        "warning": _("The warning is at most 1000 characters per language."),
        "services": _("List at most 50 e-services, one per line."),
        "confusable_with": _("Choose confusable codes from the list."),
        "category_id": _("Choose a category from the list."),
        "mandate_type": _("Choose a mandate type from the list."),
        "agency": _("The agency's name is at most 100 characters."),
    }
    return field, messages.get(field, _("Check the fields."))


def _render_form(mode: str, code=None, values=None, error=None, status: int = 200, check: bool = False):
    with host().db.reader() as s:
        organisation_id = g.user.organisation_id
        current = code and s.get(AuthorizationCode, code.id)
        in_use = catalog.uses(s, code.id) if code is not None and mode == "edit" else 0
        values = values if values is not None else _defaults(current, mode)
        others = [
            c
            for c in catalog_read.search(
                s, organisation_id, statuses=tuple(s_.value for s_ in CodeStatus), language=current_language()
            )
            if not code or c.id != code.id
        ]
        return render_template(
            "catalog/form.html",
            mode=mode,
            code=current,
            values=values,
            in_use=in_use,
            error=error,
            categories=catalog_read.categories(s, organisation_id),
            others=others,
            languages=LANGUAGES,
            mandate_types=[m.value for m in MandateType],
            limits=LIMITS,
            advice=_advice(values.get("name"), values.get("description")) if check or mode == "edit" else None,
        ), status


def _defaults(code, mode: str) -> dict:
    if code is None:
        return {"mandate_type": "transaction", "status": "draft", "name": {}, "description": {}, "warning": {}}
    values = {name: getattr(code, name) for name in FORM_FIELDS}
    if mode == "replace":  # the new code starts from the old one's texts, with a new identifier to choose
        values.update(key="", verified=False, description_verified=False, status="active")
    return values


def _code(s, code_id: int) -> AuthorizationCode:
    return catalog.get_code(s, g.user.organisation_id, code_id)


@bp.get("/new")
@login_required
def new():
    _editor_required()
    return _render_form("new")


@bp.post("/new")
@login_required
def create():
    _editor_required()
    values = _form_values(locked=False)
    if request.form.get("action") == "check":
        return _render_form("new", values=values, check=True)
    try:
        with host().db.unit_of_work() as s:
            created = catalog.create_code(s, g.user.organisation_id, values, actor_id=g.user.id, now=host().clock())
            code_id = created.id
    except catalog.CatalogInputError as err:
        return _render_form("new", values=values, error=_error_text(err), status=422, check=True)
    flash(_("The code was saved."), "success")
    return redirect(url_for("catalog.edit", code_id=code_id), 303)


@bp.get("/<int:code_id>/edit")
@login_required
def edit(code_id: int):
    _editor_required()
    with host().db.reader() as s:
        code = _code(s, code_id)
    return _render_form("edit", code)


@bp.post("/<int:code_id>/edit")
@login_required
def update(code_id: int):
    _editor_required()
    with host().db.reader() as s:
        code = _code(s, code_id)
        locked = catalog.uses(s, code.id) > 0
    values = _form_values(locked)
    shown = {**_defaults(code, "edit"), **values}
    if locked:  # the page shows what is stored, never a refused change
        shown.update({name: getattr(code, name) for name in catalog.LOCKED_FIELDS})
    if request.form.get("action") == "check":
        return _render_form("edit", code, values=shown, check=True)
    try:
        with host().db.unit_of_work() as s:
            catalog.update_code(s, g.user.organisation_id, code_id, values, actor_id=g.user.id, now=host().clock())
    except catalog.CodeInUseError as err:
        return _render_form("edit", code, values=shown, error=_error_text(err), status=409)
    except catalog.CatalogInputError as err:
        return _render_form("edit", code, values=shown, error=_error_text(err), status=422)
    except ConflictError:
        return _render_form("edit", code, error=("", _("A withdrawn code is no longer changed.")), status=409)
    flash(_("The code was saved."), "success")
    return redirect(url_for("catalog.edit", code_id=code_id), 303)


@bp.get("/<int:code_id>/replace")
@login_required
def replace_form(code_id: int):
    _editor_required()
    with host().db.reader() as s:
        code = _code(s, code_id)
    return _render_form("replace", code)


@bp.post("/<int:code_id>/replace")
@login_required
def replace(code_id: int):
    _editor_required()
    with host().db.reader() as s:
        code = _code(s, code_id)
    values = _form_values(locked=False)
    values.pop("status", None)
    if request.form.get("action") == "check":
        return _render_form("replace", code, values=values, check=True)
    try:
        with host().db.unit_of_work() as s:
            new_code = catalog.replace_code(
                s, g.user.organisation_id, code_id, values, actor_id=g.user.id, now=host().clock()
            )
            new_id = new_code.id
    except catalog.CatalogInputError as err:
        return _render_form("replace", code, values=values, error=_error_text(err), status=422, check=True)
    except ConflictError:
        return _render_form(
            "replace", code, values=values, error=("", _("This code has already been replaced.")), status=409
        )
    flash(
        _(
            "The new code %(key)s replaces the old one. Now choose how the old code is withdrawn.",
            key=values.get("key"),
        ),
        "success",
    )
    return redirect(url_for("catalog.withdraw_form", code_id=code_id, replaced_by=new_id), 303)


# --- withdrawal ---------------------------------------------------------------------------------------------


def _render_withdraw(code_id: int, error: str | None = None, status: int = 200):
    with host().db.reader() as s:
        code = _code(s, code_id)
        impact = catalog.impact(s, g.user.organisation_id, code_id)
        replacement = s.get(AuthorizationCode, code.replaced_by_id) if code.replaced_by_id else None
        return render_template(
            "catalog/withdraw.html", code=code, impact=impact, replacement=replacement, error=error
        ), status


@bp.get("/<int:code_id>/withdraw")
@login_required
def withdraw_form(code_id: int):
    _editor_required()
    return _render_withdraw(code_id)


@bp.post("/<int:code_id>/withdraw")
@login_required
def withdraw(code_id: int):
    _editor_required()
    policy = request.form.get("policy", "")
    if policy not in catalog.POLICIES or request.form.get("confirm") != "1":
        return _render_withdraw(code_id, _("Choose how the code is withdrawn and confirm it."), 422)
    try:
        with host().db.unit_of_work() as s:
            result = catalog.withdraw_code(
                host(), s, g.user.organisation_id, code_id, policy=policy, actor_id=g.user.id
            )
    except ConflictError:
        return _render_withdraw(code_id, _("The code has already been withdrawn this way."), 409)
    if policy == "hidden":
        flash(_("The code is hidden: it is no longer offered in new requests."), "success")
    else:
        flash(_("The code was withdrawn. Revocations started: %(num)s.", num=len(result.revocations)), "success")
    return redirect(url_for("registry.code", code_id=code_id), 303)
