"""Valtuudet: the registry (kokonaistilanne), its summary, person and code pages, and export.

The pääkäyttäjä sees the whole organisation, a director the units they direct, everyone else only
their own authorizations (Omat valtuudet). Filters live in the URL so a view can be bookmarked.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import overview
from engine.clock import local_date
from engine.models.base import utcnow

from ..auth import login_required
from ..host import host
from ..i18n import current_language, localized

bp = Blueprint("registry", __name__)


def _manager() -> bool:
    return g.user.has("administrator") or g.user.has("director")


def _filter() -> overview.RegistryFilter:
    flt, bad = overview.RegistryFilter.from_args(request.args)
    if bad:
        flash(_("Some filters in the address were not understood and were ignored: %(names)s", names=", ".join(bad)),
              "error")
    return flt


@bp.get("/authorizations")
@login_required
def index():
    if not _manager():
        return redirect(url_for("registry.mine", **request.args), 303)
    return _list(personal=False)


@bp.get("/authorizations/mine")
@login_required
def mine():
    return _list(personal=True)


def _list(personal: bool):
    flt = _filter()
    today = local_date(utcnow())
    with host().db.reader() as s:
        scope = overview.scope_for(s, g.user, personal=personal)
        page = overview.registry_page(s, scope, flt, today=today, language=current_language())
        people = overview.people_choices(s, scope) if scope.unit_ids and not scope.whole_organisation else []
        person_name = None
        if page.filter.person is not None and not people:
            from engine.models import Person

            person = s.get(Person, page.filter.person)
            person_name = person.name if person and scope.sees_person(person) else None
        return render_template(
            "registry/index.html",
            page=page,
            flt=page.filter,
            personal=personal,
            scope=scope,
            people=people,
            person_name=person_name,
            statuses=overview.LISTED_STATUSES,
            sorts=overview.SORTS,
            page_sizes=overview.PAGE_SIZES,
            endpoint="registry.mine" if personal else "registry.index",
            today=today,
        )


@bp.get("/authorizations/export.<fmt>")
@login_required
def export(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    flt = _filter()
    personal = request.args.get("mine") == "1" or not _manager()
    today = local_date(utcnow())
    with host().db.reader() as s:
        scope = overview.scope_for(s, g.user, personal=personal)
        rows, _catalog = overview.registry_rows(s, scope, flt, today=today, language=current_language())
        headers, table = export_table(rows)
    from engine import tabular

    stamp = today.isoformat()
    if fmt == "csv":
        body, mimetype = tabular.write_csv(headers, table), "text/csv; charset=utf-8"
    else:
        body = tabular.write_xlsx(headers, table, title=_("Authorizations"))
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="valtuudet-{stamp}.{fmt}"'},
    )


def export_table(rows: list[overview.RegistryRow]) -> tuple[list[str], list[list]]:
    """The export columns are the import's default columns, so an exported file imports unchanged."""
    from engine.importer import EXPORT_HEADERS

    table = [
        [
            r.holder_name,
            r.holder_email,
            localized(r.unit.name, "fi") if r.unit else "",
            localized(r.code.name, "fi"),
            _plain_mandate_type(r.mandate_type),
            r.valid_from,
            r.valid_until,
            _plain_status(r.status),
            r.next_review_on,
            r.notes,
        ]
        for r in rows
    ]
    return list(EXPORT_HEADERS), table


def _plain_mandate_type(value: str | None) -> str:
    return {
        "transaction": "asiointivaltuus",
        "granting_right": "valtuutusoikeus",
        "representation": "edustamisvaltuus",
        "representative_granting_right": "edustajan valtuutusoikeus",
    }.get(value or "", "")


def _plain_status(value: str) -> str:
    return {
        "requested": "haettu",
        "approved": "hyväksytty",
        "active": "voimassa",
        "rejected": "hylätty",
        "revoked": "peruttu",
        "expired": "päättynyt",
    }.get(value, value)


@bp.get("/overview")
@login_required
def summary():
    if not _manager():
        return redirect(url_for("registry.mine"), 303)
    now = utcnow()
    with host().db.reader() as s:
        scope = overview.scope_for(s, g.user)
        data = overview.summary(s, scope, today=local_date(now), now=now)
        return render_template("registry/summary.html", data=data, scope=scope, now=now)


@bp.get("/people/<int:person_id>")
@login_required
def person(person_id: int):
    with host().db.reader() as s:
        scope = overview.scope_for(s, g.user)
        view = overview.person_view(s, scope, person_id, today=local_date(utcnow()), language=current_language())
        return render_template("registry/person.html", view=view)


@bp.get("/codes/<int:code_id>")
@login_required
def code(code_id: int):
    with host().db.reader() as s:
        scope = overview.scope_for(s, g.user)
        view = overview.code_view(s, scope, code_id, today=local_date(utcnow()), language=current_language())
        from engine import catalog

        return render_template("registry/code.html", view=view, scope=scope, may_edit=catalog.may_edit(g.user))

