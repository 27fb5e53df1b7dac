"""Sign-in with the organisation's OpenID provider (usually Microsoft Entra ID): Authorization Code flow with PKCE.

Authlib sends state, nonce and an S256 code challenge, and checks the ID token: signature against the provider's
JWKS, issuer, audience, nonce and expiry. We check in addition that the provider's metadata names the issuer we were
configured with (OpenID Connect Discovery 1.0, section 4.3), so a look-alike discovery document is refused.

Settings (environment): VALTUUS_OIDC_ISSUER, VALTUUS_OIDC_CLIENT_ID, VALTUUS_OIDC_CLIENT_SECRET, VALTUUS_OIDC_SCOPES
("openid email profile"), VALTUUS_OIDC_SUBJECT_CLAIM ("sub"; Entra ID: "oid"), VALTUUS_OIDC_EMAIL_CLAIM ("email";
Entra ID: "preferred_username"), VALTUUS_OIDC_TRUST_EMAIL=1 when the provider's e-mail claim needs no
``email_verified`` (only for a provider that issues addresses of its own domain, like Entra ID for its tenant),
VALTUUS_OIDC_ORGANISATION (an organisation key: people of other organisations cannot sign in this way) and
VALTUUS_OIDC_CONTACT (whom people outside the directory should contact). The provider must allow the redirect URI
<site>/login/oidc/callback and the post-logout redirect URI <site>/login.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from joserfc.errors import JoseError

from engine import sign_in

from .host import host
from .security import sign_in_rate_limited
from .sessions import begin as begin_session

bp = Blueprint("oidc", __name__)

SETTINGS = {  # app.config key → default; each is read from VALTUUS_<key> unless the app's config sets it
    "OIDC_ISSUER": "",
    "OIDC_CLIENT_ID": "",
    "OIDC_CLIENT_SECRET": "",
    "OIDC_SCOPES": "openid email profile",
    "OIDC_SUBJECT_CLAIM": "sub",
    "OIDC_EMAIL_CLAIM": "email",
    "OIDC_TRUST_EMAIL": "0",
    "OIDC_ORGANISATION": "",
    "OIDC_CONTACT": "",
}
ID_TOKEN = "oidc_id_token"  # session: the ID token, sent back as id_token_hint at sign-out
NEXT = "oidc_next"  # session: where to go after signing in


class ProviderError(Exception):
    """The provider's answer cannot be trusted or used."""


def init_app(app: Flask) -> None:
    for key, default in SETTINGS.items():
        app.config.setdefault(key, os.environ.get(f"VALTUUS_{key}", default))
    if not app.config["OIDC_ISSUER"]:
        return
    oauth = OAuth(app)
    issuer = app.config["OIDC_ISSUER"].rstrip("/")
    client = oauth.register(
        "provider",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": app.config["OIDC_SCOPES"], "code_challenge_method": "S256", "timeout": 10},
    )
    app.extensions["valtuus_oidc"] = client


def configured() -> bool:
    return "valtuus_oidc" in current_app.extensions


class NotConfigured(Exception):
    """This installation has no OpenID provider."""


def _client():
    if not configured():
        raise NotConfigured
    return current_app.extensions["valtuus_oidc"]


@bp.errorhandler(NotConfigured)
def _not_configured(_error):
    flash(_("Signing in with an organisation account is not in use in this service."), "error")
    return redirect(url_for("auth.login"))


def _metadata(client) -> dict:
    """The provider's metadata, refused unless it names the configured issuer."""
    metadata = client.load_server_metadata()
    if metadata.get("issuer", "").rstrip("/") != current_app.config["OIDC_ISSUER"].rstrip("/"):
        client.server_metadata.pop("_loaded_at", None)
        raise ProviderError(f"the provider's metadata names the issuer {metadata.get('issuer')!r}")
    return metadata


@bp.get("/login/oidc")
def start():  # not rate limited: the attempt is counted at the callback (an office behind one address signs in at 8)
    client = _client()
    try:
        _metadata(client)
    except (ProviderError, requests.RequestException) as error:
        return _refused(error)
    from .auth import local_target

    session[NEXT] = local_target(request.args.get("next", ""))
    return client.authorize_redirect(url_for("oidc.callback", _external=True))


@bp.get("/login/oidc/callback")
@sign_in_rate_limited
def callback():
    client = _client()
    try:
        _metadata(client)
        token = client.authorize_access_token()
        claims = token.get("userinfo")
        if not claims:
            raise ProviderError("no ID token")
    except (ProviderError, AuthlibBaseError, JoseError, requests.RequestException, ValueError) as error:
        return _refused(error)
    identity = identity_from(claims, current_app.config)
    if identity is None:
        return _refused(ProviderError(f"the ID token has no {current_app.config['OIDC_SUBJECT_CLAIM']!r} claim"))
    with host().db.unit_of_work() as s:
        person_id = sign_in.person_for(s, identity, current_app.config["OIDC_ORGANISATION"] or None)
    if person_id is None:
        current_app.logger.info("OIDC sign-in refused: %s is not an active person of the directory", identity.subject)
        body = render_template("oidc/unknown.html", email=identity.email, contact=current_app.config["OIDC_CONTACT"])
        return body, 403
    target = session.get(NEXT) or url_for("main.home")
    begin_session(person_id)  # a new session: the state, nonce and verifier of this sign-in go with the old one
    session[ID_TOKEN] = token["id_token"]
    return redirect(target, 303)


def identity_from(claims: dict, config: dict) -> sign_in.Identity | None:
    """The person's identity from validated ID token claims, as the settings map them."""
    subject = claims.get(config["OIDC_SUBJECT_CLAIM"])
    if not isinstance(subject, str) or not subject:
        return None
    email = claims.get(config["OIDC_EMAIL_CLAIM"])
    verified = claims.get("email_verified") is True or config["OIDC_TRUST_EMAIL"] in ("1", True)
    return sign_in.Identity(subject=subject, email=email if isinstance(email, str) else None, email_verified=verified)


def _refused(error: Exception):
    current_app.logger.warning("OIDC sign-in failed: %s", error)
    message = _("Signing in with the organisation account did not succeed. Please try again.")
    return render_template("oidc/failed.html", message=message), 400


def end_session_url() -> str | None:
    """Where to send a person signing out so the provider's session ends too (None: the provider has no such end)."""
    id_token = session.get(ID_TOKEN)
    if not configured() or not id_token:
        return None
    try:
        endpoint = _metadata(_client()).get("end_session_endpoint")
    except (ProviderError, requests.RequestException) as error:
        current_app.logger.warning("OIDC sign-out at the provider skipped: %s", error)
        return None
    if not endpoint:
        return None
    query = {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": url_for("auth.login", _external=True),
        "client_id": current_app.config["OIDC_CLIENT_ID"],
    }
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
