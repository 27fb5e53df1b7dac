"""The access matrix: every route of the app × every demo role. A route added without a rule in RULES fails the suite.

Rules name who may use a route. For a route that names an object, the roles are relative to the object the matrix
fills in (tests/web/access_world.py, OBJECT): the employee's request (its supervisor's task is open), the employee's
authorization (in a review round for the director), the employee as a person. "public" is everyone, "signed_in"
every signed-in person; "api_token" and "hr_token" routes take a bearer token instead of a session, so a session
alone gets 401, and the calendar's secret is in its URL ("calendar_token": whoever has the link reads the feed).
Allowed: never 401/403/404 (a 400/409/422 shows the minimal form was read); pages answer below 400. Not allowed: the
sign-in page for the anonymous, 403 or 404 for the signed-in (or their own list, ELSEWHERE). Never a 5xx."""

from __future__ import annotations

import pytest

from engine.hr_events import token_hash
from engine.models import Organisation
from tests.web.access_world import FIXED, ID_PARAMS, ROLES, World, world_fixture  # noqa: F401 – the fixture "world"

MANAGERS = "director|administrator"
OWNERS = "administrator|process_owner"
RULES: dict[str, str] = {
    "main.home": "signed_in",
    "main.healthz": "public",
    "main.set_language": "public",
    "main.vendor": "public",
    "auth.login": "public",
    "auth.login_post": "public",
    "auth.logout": "public",
    "oidc.start": "public",
    "oidc.callback": "public",
    "help.index": "public",
    "help.page": "public",
    "tasks.inbox": "signed_in",
    "tasks.show": "employee|supervisor|director|administrator",
    "tasks.complete": "supervisor",
    "tasks.diagram": "employee|supervisor|director|administrator",
    "requests.mine": "signed_in",
    "requests.new": "signed_in",
    "requests.create": "signed_in",
    "requests.show": "employee|supervisor|director|administrator",
    "requests.diagram": "employee|supervisor|director|administrator",
    "registry.index": MANAGERS,
    "registry.mine": "signed_in",
    "registry.export": "signed_in",
    "registry.summary": MANAGERS,
    "registry.person": "employee|director|administrator",
    "registry.code": "signed_in",
    "imports.new": "administrator",
    "imports.upload": "administrator",
    "imports.preview": "administrator",
    "imports.confirm": "administrator",
    "imports.cancel": "administrator",
    "imports.reconcile": "administrator",
    "imports.reconcile_upload": "administrator",
    "imports.comparison": "administrator",
    "imports.reconcile_act": "administrator",
    "imports.reconcile_done": "administrator",
    "reviews.index": "signed_in",
    "reviews.decide": MANAGERS,
    "reviews.finish": MANAGERS,
    "revocations.new": "employee|director|administrator",
    "revocations.create": "employee|director|administrator",
    "hr.receive_event": "hr_token",
    "hr.errors": "administrator",
    "hr.retry": "administrator",
    "hr.resolve": "administrator",
    "notifications.index": "signed_in",
    "notifications.mark_read": "signed_in",
    "notifications.preferences": "signed_in",
    "notifications.new_calendar_link": "signed_in",
    "notifications.calendar": "calendar_token",
    "notifications.outbox": "administrator",
    "notifications.send_again": "administrator",
    "api_admin.index": "administrator",
    "api_admin.create": "administrator",
    "api_admin.revoke": "administrator",
    "webhooks.index": "administrator",
    "webhooks.create": "administrator",
    "webhooks.show": "administrator",
    "webhooks.rotate": "administrator",
    "webhooks.pause_or_resume": "administrator",
    "webhooks.ping": "administrator",
    "webhooks.delete": "administrator",
    "webhooks.retry": "administrator",
    "processes.index": OWNERS,
    "processes.diff": OWNERS,
    "processes.download": OWNERS,
    "processes.download_forms": OWNERS,
    "processes.deploy_form": OWNERS,
    "processes.deploy": OWNERS,
    "processes.migrate_plan": "administrator",
    "processes.migrate": "administrator",
    "profiles.index": "signed_in",
    "profiles.show": "signed_in",
    "profiles.admin_index": "administrator",
    "profiles.admin_create": "administrator",
    "profiles.admin_edit": "administrator",
    "profiles.admin_update": "administrator",
    "profiles.admin_codes": "administrator",
    "catalog.index": "signed_in",
    "catalog.new": OWNERS,
    "catalog.create": OWNERS,
    "catalog.edit": OWNERS,
    "catalog.update": OWNERS,
    "catalog.replace_form": OWNERS,
    "catalog.replace": OWNERS,
    "catalog.withdraw_form": OWNERS,
    "catalog.withdraw": OWNERS,
    "audit.admin": "administrator",
    "audit.person_csv": "administrator",
    "audit.authorization_csv": "administrator",
    "code_proposals.index": OWNERS,
    "code_proposals.show": OWNERS,
    "code_proposals.create": OWNERS,
    "api.authorizations": "api_token",
    "api.authorization": "api_token",
    "api.people": "api_token",
    "api.person": "api_token",
    "api.units": "api_token",
    "api.codes": "api_token",
    "api.update_code": "api_token",
    "api.open_tasks": "api_token",
    "api.hr_event": "api_token",
    "api.start_request": "api_token",
    "api.openapi": "public",
    "api.docs": "public",
}
TOKEN_RULES = ("api_token", "hr_token")
ELSEWHERE = {  # endpoint → where a signed-in person it is not for is sent instead of a 403 (their own list)
    "registry.index": "/authorizations/mine",
    "registry.summary": "/authorizations/mine",
}


def test_every_route_of_the_app_has_a_rule_and_every_rule_a_route(world):
    endpoints = {r.endpoint for r in world.app.url_map.iter_rules() if r.endpoint != "static"}
    missing = sorted(endpoints - RULES.keys())
    gone = sorted(RULES.keys() - endpoints)
    assert not missing, f"routes without an access rule – add each to RULES with who may use it: {missing}"
    assert not gone, f"RULES names routes the app no longer has – remove them: {gone}"


def methods(world: World, endpoint: str) -> list[str]:
    rule = next(r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint)
    return sorted(rule.methods & {"GET", "POST", "PATCH"})


def call(world: World, role: str, method: str, path: str, data: dict | None = None, fresh: bool = False):
    client, token = world.client(role, fresh)
    if method == "GET":
        return client.get(path)
    form = {"csrf_token": token, **(data or {})}
    return client.open(path, method=method, data=form)


def allowed(rule: str, role: str) -> bool:
    if rule in ("public", "calendar_token"):
        return True
    if rule == "signed_in":
        return role != "anonymous"
    return role in rule.split("|")


@pytest.mark.parametrize("endpoint", sorted(RULES))
def test_each_role_gets_what_the_rule_of_the_route_says(world, endpoint):
    if endpoint not in {r.endpoint for r in world.app.url_map.iter_rules()}:
        pytest.skip("no such route (the test above fails for it)")
    rule = RULES[endpoint]
    path, form = world.url(endpoint, world.a), world.form(endpoint, world.a)
    for method in methods(world, endpoint):
        for role in ROLES:
            response = call(world, role, method, path, form, fresh=endpoint == "auth.logout")
            status, where = response.status_code, response.headers.get("Location", "")
            said = f"{method} {path} as {role}: {status} {where}"
            assert status < 500, said
            if rule in TOKEN_RULES:
                assert status == 401, said  # a session is no token
            elif allowed(rule, role):
                assert status not in (401, 403, 404), said  # a 400/409/422 says the empty form was read
                assert endpoint.startswith(("auth.", "oidc.")) or not where.startswith("/login"), said
                if method == "GET":
                    assert status < 400, said
            elif role == "anonymous":
                assert status == 302 and where.startswith("/login"), said
            elif endpoint in ELSEWHERE:
                assert status == 303 and where.startswith(ELSEWHERE[endpoint]), said
            else:
                assert status in (403, 404), said


# -- the routes that take a secret instead of a session -------------------------------------------------------------


def test_the_api_token_reaches_every_api_route_of_its_own_organisation(world):
    client = world.app.test_client()
    headers = {"Authorization": f"Bearer {world.a.api_token}"}
    for endpoint in sorted(e for e, r in RULES.items() if r == "api_token"):
        rule = next(r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint)
        method = sorted(rule.methods & {"GET", "POST", "PATCH"})[0]
        response = client.open(world.url(endpoint, world.a), method=method, headers=headers, json={})
        said = f"{method} {endpoint}: {response.status_code}"
        assert response.status_code < 500 and response.status_code not in (401, 403, 404), said
        if method == "GET":
            assert response.status_code == 200, said


def test_the_calendar_feed_needs_its_secret_and_the_hr_api_its_token(world):
    client = world.app.test_client()
    assert client.get(f"/calendar/{world.a.ids['token']}.ics").status_code == 200
    assert client.get("/calendar/not-the-secret.ics").status_code == 404
    assert client.post("/api/hr/events", json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
    set_hr_token(world, world.a, "hr-secret-a")
    answer = client.post("/api/hr/events", json={}, headers={"Authorization": "Bearer hr-secret-a"})
    assert answer.status_code == 422  # let in: the empty event is refused for what it is


def set_hr_token(world: World, org, token: str) -> None:
    """Give the organisation an HR system token (its SHA-256 in the organisation's settings)."""
    with world.host.db.unit_of_work() as s:
        row = s.get(Organisation, org.id)
        row.settings = {**(row.settings or {}), "hr_token_sha256": token_hash(token)}


# -- ids no database holds ---------------------------------------------------------------------------------------

BIG = 2**70  # past any database integer


@pytest.mark.parametrize("role", ["administrator", "employee"])
def test_an_id_past_the_databases_range_is_not_found_on_every_route_never_a_server_error(world, role):
    client, token = world.client(role)
    for rule in world.app.url_map.iter_rules():
        numbers = [a for a in rule.arguments if a in ID_PARAMS - {"task_id", "key"}]  # the <int:…> ids
        if not numbers:
            continue
        values = {a: BIG if a in numbers else FIXED.get(a, world.a.ids.get(a)) for a in rule.arguments}
        path = world.app.url_map.bind("localhost").build(rule.endpoint, values)
        for method in sorted(rule.methods & {"GET", "POST", "PATCH"}):
            response = client.open(path, method=method, data={"csrf_token": token})
            status = response.status_code  # (405: routing found the path for another method only)
            assert status in (401, 404, 405), f"{method} {path}: {status}"
    for path in (
        f"/revocations/new?authorization={BIG}",
        f"/requests/new?renew={BIG}",
        f"/authorizations?person={BIG}",
        f"/authorizations?unit={BIG}",
        f"/role-profiles/matriisi_a?holder={BIG}",
        f"/catalog?category={BIG}",
    ):
        assert client.get(path).status_code < 500, path
    forms = {
        "/requests/new": {"holder_id": BIG},
        "/revocations/new": {"authorization": BIG, "reason": "Ei tarvita"},
        "/reviews/decide": {"decide": f"{BIG}:keep", f"version-{BIG}": BIG},
        "/notifications/read": {"id": BIG},
        f"/admin/role-profiles/{world.a.ids['key']}/codes": {"add_code": BIG, "add_reason_fi": "Tarvitaan"},
    }
    for path, form in forms.items():
        response = client.post(path, data={"csrf_token": token, **form})
        assert response.status_code < 500, f"POST {path}: {response.status_code}"
