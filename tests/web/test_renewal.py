"""Renewal offers on the pages: the holder and their supervisor get "Renew", which opens the normal request form
prefilled from the old authorization; a director sees that the renewal was offered."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select

from engine import lifecycle
from engine.clock import local_date
from engine.models import Authorization, AuthorizationCode
from tests.engine.test_expiry import add_authorization


def offered(host, people, codes, days: int = 20) -> tuple[int, object]:
    end = local_date(host.clock()) + timedelta(days=days)
    auth_id = add_authorization(host, people["employee"], codes[0], end)
    lifecycle.expire_and_offer(host)
    return auth_id, end


def page(web, path: str) -> str:
    response = web.client.get(path)
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


def test_the_holder_sees_renew_on_their_authorizations_and_the_front_page(web, host, people, codes):
    auth_id, _end = offered(host, people, codes)
    far = add_authorization(host, people["employee"], codes[1], local_date(host.clock()) + timedelta(days=200))
    web.login("employee")
    mine = page(web, "/authorizations/mine")
    assert f"/requests/new?renew={auth_id}" in mine and f"/requests/new?renew={far}" not in mine
    front = page(web, "/")
    assert "Uusimista tarjottu" in front and f"/requests/new?renew={auth_id}" in front


def test_the_renewal_page_is_the_request_form_prefilled_from_the_old_authorization(web, host, people, codes):
    auth_id, end = offered(host, people, codes)
    web.login("employee")
    form = page(web, f"/requests/new?renew={auth_id}")
    start = end + timedelta(days=1)
    assert re.search(rf'name="valid_from"[^>]*value="{start.isoformat()}"', form)
    assert re.search(rf'name="valid_until"[^>]*value="{start.replace(year=start.year + 1).isoformat()}"', form)
    assert "Palkanlaskenta edellyttää tulorekisteri-ilmoituksia." in form
    assert f'id="codes-{codes[0]}" name="codes" value="{codes[0]}" checked' in form

    response = web.post("/requests/new", {
        "codes": [str(codes[0])], "justification": "Palkanlaskenta edellyttää tulorekisteri-ilmoituksia.",
        "valid_from": start.isoformat(), "valid_until": start.replace(year=start.year + 1).isoformat(),
    }, token_from=f"/requests/new?renew={auth_id}")
    assert response.status_code == 303  # through the normal approval and registration from here
    with host.db.reader() as s:
        renewal = s.scalar(select(Authorization).where(Authorization.status == "requested"))
    assert renewal.code_id == codes[0] and renewal.valid_from == start and renewal.holder_id == people["employee"]


def test_the_supervisor_may_start_the_renewal_and_others_may_not(web, host, people, codes):
    auth_id, _end = offered(host, people, codes)
    web.login("supervisor")
    form = page(web, f"/requests/new?renew={auth_id}")
    assert f'<option value="{people["employee"]}" selected' in form
    web.login("riikka.nieminen")  # a colleague
    assert web.client.get(f"/requests/new?renew={auth_id}").status_code == 404
    web.login("admin")
    assert web.client.get(f"/requests/new?renew={auth_id}").status_code == 404


def test_the_director_sees_the_offer_without_the_link(web, host, people, codes):
    auth_id, _end = offered(host, people, codes)
    web.login("director")
    registry = page(web, "/authorizations")
    assert "Uusimista tarjottu" in registry and f"renew={auth_id}" not in registry
    with host.db.reader() as s:
        assert s.get(AuthorizationCode, codes[0]) is not None
