"""Settings, read once from the environment (or given explicitly by a caller)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = PROJECT_ROOT / "instance" / "valtuushallinta.sqlite3"


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{DEFAULT_SQLITE}"
    processes_dir: Path = PROJECT_ROOT / "processes"
    forms_dir: Path = PROJECT_ROOT / "forms"
    demo_file: Path = PROJECT_ROOT / "engine" / "data" / "demo_organisation.yaml"
    codes_file: Path = PROJECT_ROOT / "engine" / "data" / "authorization_codes.yaml"
    timer_interval_seconds: float = 30.0
    smtp_host: str = ""  # empty: e-mail waits in the outbox (nothing is sent, nothing is lost)
    smtp_port: int = 25
    smtp_security: str = ""  # "", "starttls" or "tls"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_sender: str = "valtuushallinta@localhost"
    base_url: str = "http://127.0.0.1:5000"
    webhook_allow_http: bool = False  # plain http webhook URLs (a test receiver, an internal network): off by default
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict | None = None) -> Settings:
        env = os.environ if env is None else env
        kwargs = {}
        if env.get("DATABASE_URL"):
            kwargs["database_url"] = normalise_database_url(env["DATABASE_URL"])
        if env.get("VALTUUS_PROCESSES_DIR"):
            kwargs["processes_dir"] = Path(env["VALTUUS_PROCESSES_DIR"])
        if env.get("VALTUUS_FORMS_DIR"):
            kwargs["forms_dir"] = Path(env["VALTUUS_FORMS_DIR"])
        if env.get("VALTUUS_TIMER_INTERVAL"):
            kwargs["timer_interval_seconds"] = float(env["VALTUUS_TIMER_INTERVAL"])
        if env.get("VALTUUS_SMTP_HOST"):
            kwargs["smtp_host"] = env["VALTUUS_SMTP_HOST"]
        if env.get("VALTUUS_SMTP_PORT"):
            kwargs["smtp_port"] = int(env["VALTUUS_SMTP_PORT"])
        if env.get("VALTUUS_SMTP_TLS", "0") == "1":
            kwargs["smtp_security"] = "tls"
        elif env.get("VALTUUS_SMTP_STARTTLS", "0") == "1":
            kwargs["smtp_security"] = "starttls"
        for key in ("user", "password", "sender"):
            if env.get(f"VALTUUS_SMTP_{key.upper()}"):
                kwargs[f"smtp_{key}"] = env[f"VALTUUS_SMTP_{key.upper()}"]
        if env.get("VALTUUS_BASE_URL"):
            kwargs["base_url"] = env["VALTUUS_BASE_URL"].rstrip("/")
        if env.get("VALTUUS_WEBHOOK_ALLOW_HTTP", "0") == "1":
            kwargs["webhook_allow_http"] = True
        return cls(**kwargs)


def normalise_database_url(url: str) -> str:
    """Accept the URLs operators write (postgres://, postgresql://) and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
