"""Fixtures: a real database (SQLite by default, PostgreSQL with TEST_DATABASE_URL), the demo
organisation and the shipped diagrams, reset before every test; ``app``/``client`` as in flaskr."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine import migrate
from engine.config import Settings, normalise_database_url
from engine.db import Database
from engine.demo import load_demo
from engine.models import AuthorizationCode, Base, Person
from engine.runtime import Host


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    return Settings(database_url=normalise_database_url(url))


@pytest.fixture(scope="session")
def database(settings):
    db = Database(settings.database_url)
    if db.engine.dialect.name == "postgresql":  # the test database is disposable: start from nothing
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(db.engine)
    yield db
    db.dispose()


def reset(db: Database) -> None:
    with db.unit_of_work() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "units":
                session.execute(table.update().values(director_id=None, deputy_id=None))
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())


@pytest.fixture
def host(settings, database) -> Host:
    reset(database)
    h = Host(settings, db=database)
    with database.unit_of_work() as session:
        load_demo(session, settings.demo_file, settings.codes_file)
    h.load_processes()
    return h


@pytest.fixture
def people(host) -> dict[str, int]:
    """E-mail (the part before @) → person id of the demo organisation."""
    with host.db.reader() as s:
        return {p.email.split("@")[0]: p.id for p in s.scalars(select(Person))}


@pytest.fixture
def codes(host) -> list[int]:
    with host.db.reader() as s:
        return list(s.scalars(select(AuthorizationCode.id).order_by(AuthorizationCode.id)))


def request_form(codes: list[int], **overrides) -> dict:
    today = date.today()
    data = {
        "codes": codes,
        "justification": "Palkanlaskenta edellyttää tulorekisteri-ilmoituksia.",
        "valid_from": (today + timedelta(days=1)).isoformat(),
        "valid_until": (today + timedelta(days=366)).isoformat(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def registration_form(**overrides) -> dict:
    today = date.today()
    data = {
        "registration_outcome": "registered",
        "registered_on": today.isoformat(),
        "registered_valid_from": (today + timedelta(days=1)).isoformat(),
        "registered_valid_until": (today + timedelta(days=366)).isoformat(),
        "mandate_type": "transaction",
    }
    data.update(overrides)
    return data


@pytest.fixture
def app(host):
    from web import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "VALTUUS_HOST": host, "DEMO_SIGN_IN": True})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Web:
    """A person using the site through the test client, CSRF tokens and all."""

    def __init__(self, client, people: dict[str, int]):
        self.client = client
        self.people = people

    def token(self, path: str = "/login") -> str:
        page = self.client.get(path)
        return CSRF.search(page.get_data(as_text=True)).group(1)

    def login(self, who: str):
        return self.client.post("/login", data={"person_id": self.people[who], "csrf_token": self.token("/login")})

    def post(self, path: str, data: dict, token_from: str | None = None):
        form = {"csrf_token": self.token(token_from or path)}
        form.update(data)
        return self.client.post(path, data=form)


@pytest.fixture
def web(client, people) -> Web:
    return Web(client, people)
