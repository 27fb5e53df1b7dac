"""Sign-in with the organisation's OpenID provider: a real one, the certified oidc-provider package (Node.js), started
on loopback by tests/oidc/provider.mjs. The tests play the browser: the Flask test client on our side, a requests
session on the provider's side, following each redirect by hand.

Without Node.js or node_modules/oidc-provider (``make setup`` installs it) the tests skip, except in CI (CI=true),
where they fail."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from engine.models import AuditEvent, Person

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
CLIENT = {
    "client_id": "valtuushallinta",
    "client_secret": "test-client-secret",
    "redirect_uris": ["http://localhost/login/oidc/callback"],
    "post_logout_redirect_uris": ["http://localhost/login"],
}
ACCOUNTS = {  # provider subject → claims
    "subject-emilia": {"email": "Employee@merilahti.example", "email_verified": True, "name": "Emilia"},
    "subject-sami": {"email": "supervisor@merilahti.example", "email_verified": False, "name": "Sami"},
    "subject-stranger": {"email": "stranger@elsewhere.example", "email_verified": True, "name": "Stranger"},
}
CONTACT = "Pia Pääkäyttäjä, admin@merilahti.example"


class Provider:
    def __init__(self, port: int):
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"


def _required(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the OpenID Connect tests)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def provider():
    node = shutil.which("node")
    if node is None:
        _required("Node.js is not installed; the OpenID Connect tests run the oidc-provider package on it")
    if not (ROOT / "node_modules" / "oidc-provider").is_dir():
        _required("node_modules/oidc-provider is missing; run `make setup` (npm install)")
    port = _free_port()
    env = {
        **os.environ,
        "OIDC_TEST_PORT": str(port),
        "OIDC_TEST_CLIENT": json.dumps(CLIENT),
        "OIDC_TEST_ACCOUNTS": json.dumps(ACCOUNTS),
    }
    process = subprocess.Popen(
        [node, str(PROVIDER_SCRIPT)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        line = process.stdout.readline()  # "listening PORT" once it accepts connections
        if not line.startswith("listening"):
            pytest.fail(f"the OpenID provider did not start (exit code {process.poll()})")
        yield Provider(port)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def oidc_app(host, provider):
    from web import create_app

    return create_app(_config(host, provider.issuer))


def _config(host, issuer: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "VALTUUS_HOST": host,
        "DEMO_SIGN_IN": False,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT["client_id"],
        "OIDC_CLIENT_SECRET": CLIENT["client_secret"],
        "OIDC_CONTACT": CONTACT,
    }


def through_provider(url: str, account: str) -> str:
    """Sign in at the provider as the account (its development login form, then consent); our callback URL."""
    browser = requests.Session()
    for _ in range(12):
        if url.startswith("http://localhost/"):
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code not in (302, 303):
            form = response.text
            prompt = re.search(r'name="prompt" value="(\w+)"', form).group(1)
            action = re.search(r'action="([^"]+)"', form).group(1)
            data = {"prompt": prompt, "login": account, "password": "any"}
            response = browser.post(urljoin(url, action), data=data, allow_redirects=False, timeout=10)
        assert response.status_code in (302, 303), response.text[:500]
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("the provider never sent the browser back")


def local(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def sign_in(client, account: str):
    """The whole round: our start page, the provider, our callback. The callback's response."""
    start = client.get("/login/oidc?next=/authorizations/mine")
    assert start.status_code == 302, start.get_data(as_text=True)
    sent = parse_qs(urlsplit(start.headers["Location"]).query)
    assert sent["code_challenge_method"] == ["S256"] and sent["nonce"] and sent["state"]  # PKCE, nonce, state
    return client.get(local(through_provider(start.headers["Location"], account)))


def signed_in_as(client) -> int | None:
    with client.session_transaction() as session:
        return session.get("person_id")


def test_the_sign_in_page_offers_the_organisation_account(oidc_app):
    page = oidc_app.test_client().get("/login").get_data(as_text=True)
    assert "/login/oidc" in page
    assert 'name="person_id"' not in page  # demo sign-in is off


def test_the_first_sign_in_links_by_verified_email_and_later_ones_by_subject(oidc_app, host, people):
    client = oidc_app.test_client()
    response = sign_in(client, "subject-emilia")
    assert response.status_code == 303 and response.headers["Location"] == "/authorizations/mine"
    assert signed_in_as(client) == people["employee"]
    with host.db.unit_of_work() as s:
        person = s.get(Person, people["employee"])
        assert person.oidc_subject == "subject-emilia"
        assert s.scalars(select(AuditEvent.action).where(AuditEvent.action == "person.sign_in_linked")).all()
        person.email = "emilia.uusi@merilahti.example"  # a changed address does not matter any more
    again = oidc_app.test_client()
    assert sign_in(again, "subject-emilia").status_code == 303
    assert signed_in_as(again) == people["employee"]


def test_a_person_outside_the_directory_is_told_whom_to_contact_and_no_account_is_made(oidc_app, host):
    with host.db.reader() as s:
        before = len(s.scalars(select(Person.id)).all())
    client = oidc_app.test_client()
    response = sign_in(client, "subject-stranger")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert CONTACT in page and "stranger@elsewhere.example" in page
    assert signed_in_as(client) is None
    with host.db.reader() as s:
        assert len(s.scalars(select(Person.id)).all()) == before


def test_an_email_the_provider_has_not_verified_does_not_link(oidc_app, host, people):
    client = oidc_app.test_client()
    assert sign_in(client, "subject-sami").status_code == 403
    assert signed_in_as(client) is None
    with host.db.reader() as s:
        assert s.get(Person, people["supervisor"]).oidc_subject is None


def test_a_person_who_has_left_cannot_sign_in_even_when_linked(oidc_app, host, people):
    assert sign_in(oidc_app.test_client(), "subject-emilia").status_code == 303
    with host.db.unit_of_work() as s:
        s.get(Person, people["employee"]).active = False
    client = oidc_app.test_client()
    assert sign_in(client, "subject-emilia").status_code == 403
    assert signed_in_as(client) is None


def test_a_tampered_state_is_refused(oidc_app):
    client = oidc_app.test_client()
    start = client.get("/login/oidc")
    callback = urlsplit(through_provider(start.headers["Location"], "subject-emilia"))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    query["state"] = query["state"][:-2] + "xx"
    response = client.get(f"{callback.path}?{urlencode(query)}")
    assert response.status_code == 400
    assert signed_in_as(client) is None


def test_an_id_token_with_another_nonce_is_refused(oidc_app):
    client = oidc_app.test_client()
    start = client.get("/login/oidc")
    with client.session_transaction() as session:  # the nonce this browser's sign-in expects is not the one sent
        key = next(k for k in session if k.startswith("_state_provider_"))
        stored = session[key]
        stored["data"]["nonce"] = "some-other-nonce"
        session[key] = stored
    response = client.get(local(through_provider(start.headers["Location"], "subject-emilia")))
    assert response.status_code == 400
    assert signed_in_as(client) is None


def test_a_provider_whose_metadata_names_another_issuer_is_refused(host, provider):
    from web import create_app

    # The same server reached by another name: its discovery document names http://127.0.0.1:…, not what we trust.
    app = create_app(_config(host, f"http://localhost:{provider.port}"))
    client = app.test_client()
    response = client.get("/login/oidc")
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_sign_out_ends_the_session_here_and_at_the_provider(oidc_app, people):
    client = oidc_app.test_client()
    sign_in(client, "subject-emilia")
    page = client.get("/authorizations/mine").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/logout", data={"csrf_token": token})
    assert signed_in_as(client) is None
    assert response.status_code == 303
    end = response.headers["Location"]
    assert end.startswith(f"{oidc_app.config['OIDC_ISSUER']}/session/end?")
    query = parse_qs(urlsplit(end).query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/login"] and query["id_token_hint"][0].count(".") == 2
    browser = requests.Session()
    confirm = browser.get(end, timeout=10)  # the provider accepts the hint and asks to confirm
    action = re.search(r'action="([^"]+)"', confirm.text).group(1)
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text).group(1)
    done = browser.post(urljoin(end, action), data={"xsrf": xsrf, "logout": "yes"}, allow_redirects=False, timeout=10)
    assert done.status_code in (302, 303) and done.headers["Location"].startswith("http://localhost/login")


# -- the ID token checks, with tokens the test signs itself ---------------------------------------------------------


@pytest.fixture
def checked(oidc_app):
    """Checks an ID token as the callback does, against the provider's metadata but the test's signing key."""
    key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "alg": "RS256", "use": "sig"})
    client = oidc_app.extensions["valtuus_oidc"]
    with oidc_app.app_context():
        client.load_server_metadata()
    client.server_metadata["jwks"] = KeySet([key]).as_dict(private=False)

    def check(claims: dict, nonce: str = "the-nonce", signed_by: RSAKey = key):
        now = int(time.time())
        payload = {
            "iss": client.server_metadata["issuer"],
            "aud": CLIENT["client_id"],
            "sub": "subject-emilia",
            "nonce": "the-nonce",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, payload, signed_by)
        with oidc_app.app_context():
            return client.parse_id_token({"id_token": id_token, "access_token": "x"}, nonce=nonce)

    return check


def test_a_well_formed_id_token_passes_the_checks(checked):
    assert checked({})["sub"] == "subject-emilia"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://login.example.invalid/"},
        {"aud": "another-client"},
        {"nonce": "a-replayed-nonce"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
    ids=["wrong issuer", "wrong audience", "wrong nonce", "expired"],
)
def test_an_id_token_with_a_wrong_claim_is_refused(checked, claims):
    with pytest.raises(JoseError):
        checked(claims)


def test_an_id_token_signed_with_another_key_is_refused(checked):
    forger = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    with pytest.raises(JoseError):
        checked({}, signed_by=forger)
