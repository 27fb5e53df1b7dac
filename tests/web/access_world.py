"""Two organisations with one of every kind of object a URL can name, for the access matrix and the separation of
organisations (tests/web/test_access_matrix.py, test_organisation_separation.py): the demo organisation (A) and a
second one (B) built the same way, one app over both, and how a route's URL is filled with an organisation's objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from engine import api_tokens, code_introduction, notifications, review, role_profiles, webhooks
from engine.clock import local_date
from engine.demo import load_codes, load_demo
from engine.directory import upsert_organisation
from engine.models import (
    AuthorizationCode,
    HumanTask,
    ImportUpload,
    Notification,
    OutboxMessage,
    Person,
    PersonRole,
    ProcessInstance,
    ReviewItem,
)
from engine.models.base import utcnow
from engine.role_profiles import load_profiles
from engine.runtime import Host
from tests.conftest import CSRF, Web, request_form, reset
from tests.engine.test_process_versions import NAME, changed_diagram, deploy
from tests.engine.test_revocation import add_active

CSV = "Henkilö;Sähköposti;Valtuusasia\nJoku;joku@example.fi;x\n".encode()

OTHER = {
    "organisation": {"key": "toinen", "name": {"fi": "Toinen kunta"}, "business_id": "0000000-0"},
    "units": [
        {"key": "hallinto", "name": {"fi": "Toisen hallinto"}, "director": "boss@toinen.example"},
        {"key": "talous", "name": {"fi": "Toisen talous"}, "parent": "hallinto"},
    ],
    "people": [
        {"email": "boss@toinen.example", "name": "Toisen Pomo", "unit": "hallinto", "roles": []},
        {
            "email": "esihenkilo@toinen.example",
            "name": "Toisen Esihenkilo",
            "unit": "talous",
            "supervisor": "boss@toinen.example",
            "roles": [],
        },
        {
            "email": "worker@toinen.example",
            "name": "Toisen Tyontekija",
            "unit": "talous",
            "supervisor": "esihenkilo@toinen.example",
            "roles": [],
        },
        {
            "email": "paakayttaja@toinen.example",
            "name": "Toisen Paakayttaja",
            "unit": "hallinto",
            "supervisor": "boss@toinen.example",
            "roles": ["administrator", "process_owner"],
        },
        {
            "email": "sivullinen@toinen.example",
            "name": "Toisen Sivullinen",
            "unit": "talous",
            "supervisor": "boss@toinen.example",
            "roles": [],
        },
    ],
}


@dataclass
class Organisation:
    """One organisation's people (by role) and the ids of its objects, by URL parameter name."""

    id: int
    people: dict[str, int]
    ids: dict[str, object] = field(default_factory=dict)
    api_token: str = ""


def second_organisation(host) -> dict[str, int]:
    with host.db.unit_of_work() as s:
        org = upsert_organisation(s, OTHER)
        load_codes(s, org, host.settings.codes_file)
        load_profiles(s, org, host.settings.codes_file.parent / "role_profiles.yaml")
        s.flush()
        by_email = {p.email: p.id for p in s.scalars(select(Person).where(Person.organisation_id == org.id))}
    return {
        "employee": by_email["worker@toinen.example"],
        "supervisor": by_email["esihenkilo@toinen.example"],
        "director": by_email["boss@toinen.example"],
        "administrator": by_email["paakayttaja@toinen.example"],
        "process_owner": by_email["paakayttaja@toinen.example"],
        "bystander": by_email["sivullinen@toinen.example"],
    }


def make_process_owner(host, person_id: int) -> None:
    with host.db.unit_of_work() as s:
        s.add(PersonRole(person_id=person_id, role="process_owner"))


def populate(host, people: dict[str, int], profile_key: str) -> Organisation:
    """A request with its supervisor's task, an authorization in a review round, a code proposal, uploads,
    webhook endpoints with a delivery, API tokens, a calendar link, a failed e-mail, a process in error and a
    role profile – each spare one for the routes that delete what they name."""
    employee, now = people["employee"], host.clock()
    with host.db.reader() as s:
        org_id = s.get(Person, employee).organisation_id
        codes = list(
            s.scalars(select(AuthorizationCode.id).where(AuthorizationCode.organisation_id == org_id).limit(3))
        )
    world = Organisation(org_id, people)
    ids = world.ids
    ids["instance_id"] = host.start_request(employee, employee, request_form(codes[:1])).instance_id
    ids["error_instance_id"] = host.start_request(employee, employee, request_form(codes[1:2])).instance_id
    today = local_date(now)
    ids["authorization_id"] = add_active(
        host,
        employee,
        codes[2],
        registered=today - timedelta(days=340),
        until=today + timedelta(days=700),
        next_review=today + timedelta(days=20),
    )
    review.open_due_rounds(host, now)
    ids["proposal_id"], _first = code_introduction.start_code_introduction(host, people["administrator"])
    with host.db.unit_of_work() as s:
        ids["task_id"] = s.scalar(
            select(HumanTask.id).where(HumanTask.instance_id == ids["instance_id"], HumanTask.status == "ready")
        )
        s.get(ProcessInstance, ids["error_instance_id"]).status = "error"
        item = s.scalar(select(ReviewItem).where(ReviewItem.authorization_id == ids["authorization_id"]))
        ids["round_id"], ids["review_item_id"] = item.instance_id, item.id
        ids["person_id"], ids["code_id"] = employee, codes[0]
        ids["key"] = profile_key
        role_profiles.save_profile(
            s, people["administrator"], key=profile_key, name={"fi": f"Profiili {org_id}"}, create=True, now=now
        )
        for name, kind in (
            ("upload_id", "authorizations"),
            ("spare_upload_id", "authorizations"),
            ("suomifi_upload_id", "suomifi"),
            ("spare_suomifi_upload_id", "suomifi"),
        ):
            upload = ImportUpload(
                organisation_id=org_id,
                uploaded_by_id=people["administrator"],
                kind=kind,
                filename=f"lista-{org_id}.csv",
                sha256="0" * 64,
                content=CSV,
                options={},
                created_at=utcnow(),
            )
            s.add(upload)
            s.flush()
            ids[name] = upload.id
        for name in ("endpoint_id", "spare_endpoint_id"):
            row, _secret = webhooks.create_endpoint(
                s, org_id, f"https://{name.replace('_', '-')}-{org_id}.example.fi/", "", created_by=None, now=now
            )
            ids[name] = row.id
        webhooks.ping(s, org_id, ids["endpoint_id"], now)
        s.flush()  # (the unit of work does not autoflush)
        ids["delivery_id"] = s.scalar(
            select(webhooks.WebhookDelivery.id).where(webhooks.WebhookDelivery.endpoint_id == ids["endpoint_id"])
        )
        _row, world.api_token = api_tokens.create(
            s, org_id, f"matrix-{org_id}", list(api_tokens.SCOPES), created_by=None, now=now
        )
        spare, _secret = api_tokens.create(s, org_id, f"spare-{org_id}", ["read"], created_by=None, now=now)
        ids["token_id"] = spare.id
        ids["token"] = notifications.new_calendar_token(s, s.get(Person, people["bystander"]), now)
        outbox = s.scalar(select(OutboxMessage).where(OutboxMessage.organisation_id == org_id).limit(1))
        outbox.status = "failed"
        ids["outbox_id"] = outbox.id
        ids["notification_id"] = s.scalar(
            select(Notification.id).where(Notification.organisation_id == org_id).limit(1)
        )
    return world


ROLES = {  # role → the demo person (e-mail before @) signed in; the process owner gets the role in the fixture
    "anonymous": None,
    "employee": "employee",
    "supervisor": "supervisor",
    "director": "director",
    "administrator": "jonas.ekholm",
    "process_owner": "ville.laaksonen",
}
# URL parameters that are not objects of an organisation, and the query strings some pages need
FIXED = {
    "process_id": "authorization_request",
    "version": 1,
    "fmt": "csv",
    "name": "bpmn-js.css",
    "slug": "hakeminen",
    "action": "pause",
}
QUERY = {"processes.diff": "?old=1&new=1", "revocations.new": "?authorization={authorization_id}"}
OBJECT = {  # endpoint → which of the organisation's objects fills its id (the default: the parameter's name)
    "code_proposals.show": {"instance_id": "proposal_id"},
    "reviews.finish": {"instance_id": "round_id"},
    "hr.retry": {"instance_id": "error_instance_id"},
    "hr.resolve": {"instance_id": "error_instance_id"},
    "imports.cancel": {"upload_id": "spare_upload_id"},
    "webhooks.delete": {"endpoint_id": "spare_endpoint_id"},
    "imports.reconcile_done": {"upload_id": "spare_suomifi_upload_id"},
    **{e: {"upload_id": "suomifi_upload_id"} for e in ("imports.comparison", "imports.reconcile_act")},
}
FORM = {  # endpoint → the minimal form a POST sends (ids of the organisation's objects filled in)
    "revocations.create": {"authorization": "{authorization_id}"},
    "reviews.decide": {"decide": "{review_item_id}:keep", "version-{review_item_id}": "-1"},  # a stale version
    "main.set_language": {"lang": "fi"},
    "notifications.preferences": {"email": "immediate"},
}
ID_PARAMS = {
    "instance_id",
    "task_id",
    "authorization_id",
    "person_id",
    "code_id",
    "token_id",
    "endpoint_id",
    "delivery_id",
    "upload_id",
    "key",
    "outbox_id",
}


class World:
    """One app over two organisations, and a signed-in test client per role (CSRF token kept)."""

    def __init__(self, app: Flask, host: Host, a: Organisation, b: Organisation, people: dict[str, int]):
        self.app, self.host, self.a, self.b, self.people = app, host, a, b, people
        self.clients: dict[str, tuple] = {}

    def client(self, role: str, fresh: bool = False) -> tuple:
        """The role's shared client, or a new one (for signing out)."""
        if fresh or role not in self.clients:
            client = self.app.test_client()
            who = ROLES.get(role, role)
            if who:
                Web(client, self.people).login(who)
            page = client.get("/" if who else "/login").get_data(as_text=True)
            if fresh:
                return client, CSRF.search(page).group(1)
            self.clients[role] = (client, CSRF.search(page).group(1))
        return self.clients[role]

    def url(self, endpoint: str, org: Organisation) -> str:
        rule = next(r for r in self.app.url_map.iter_rules() if r.endpoint == endpoint)
        names = OBJECT.get(endpoint, {})
        values = {arg: FIXED[arg] if arg in FIXED else org.ids[names.get(arg, arg)] for arg in rule.arguments}
        with self.app.test_request_context():
            path = self.app.url_map.bind("localhost").build(endpoint, values)
        return path + QUERY.get(endpoint, "").format(**org.ids)

    def form(self, endpoint: str, org: Organisation) -> dict:
        return {k.format(**org.ids): v.format(**org.ids) for k, v in FORM.get(endpoint, {}).items()}


@pytest.fixture(scope="module", name="world")
def world_fixture(settings, database) -> World:
    """Built once per test module (the function-scoped ``host`` fixture resets the database for other modules)."""
    from web import create_app

    reset(database)
    host = Host(settings, db=database)
    with database.unit_of_work() as s:
        load_demo(s, settings.demo_file, settings.codes_file)
    host.load_processes()
    with host.db.reader() as s:
        people = {p.email.split("@")[0]: p.id for p in s.scalars(select(Person))}
    make_process_owner(host, people["ville.laaksonen"])
    a_people = {role: people[who] for role, who in ROLES.items() if who and role != "process_owner"}
    a = populate(host, {**a_people, "administrator": people["admin"], "bystander": people["anstalld"]}, "matriisi_a")
    b = populate(host, second_organisation(host), "matriisi_b")
    # B's process owner deploys a new version of a diagram every organisation shares
    deploy(host, {NAME: changed_diagram()}, actor_id=b.people["process_owner"], note="toinen versio")
    config = {"TESTING": True, "SECRET_KEY": "test-secret", "VALTUUS_HOST": host, "DEMO_SIGN_IN": True}
    app = create_app({**config, "SIGN_IN_RATE_LIMIT": 10_000})  # the matrix signs in often from one address
    return World(app, host, a, b, people)


def markers(b: Organisation) -> list[str]:
    """Text that appears only in organisation B's data: its name, its people and units, and its objects."""
    names = [p["name"] for p in OTHER["people"]] + [u["name"]["fi"] for u in OTHER["units"]]
    return [
        *names,
        "Toinen kunta",
        f"Profiili {b.id}",
        f"lista-{b.id}.csv",
        f"-{b.id}.example.fi",
        f"matrix-{b.id}",
        f"spare-{b.id}",
    ]
