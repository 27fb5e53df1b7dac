"""Loading the shipped code catalog and the demo organisation (idempotent)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .directory import load_yaml, upsert_organisation
from .models import Authorization, AuthorizationCode, Organisation, Person, Unit


def load_codes(session: Session, organisation: Organisation, path: Path) -> int:
    """Bring in the shipped catalog (engine/catalog_load.py): never rewrites a code already in use. Returns how
    many codes were added."""
    from .catalog_load import load_catalog

    return load_catalog(session, organisation, path).added


def load_demo(session: Session, organisation_file: Path, codes_file: Path) -> Organisation:
    org = upsert_organisation(session, load_yaml(organisation_file))
    load_codes(session, org, codes_file)
    from .role_profiles import load_profiles  # the role profiles' starter set, beside the catalog

    load_profiles(session, org, Path(codes_file).parent / "role_profiles.yaml")
    return org


# Which codes the demo units' people typically hold (for a registry that looks like a real municipality's).
UNIT_CODES = {
    "kaupunginkanslia": ["keha_valtionavustusten_hakeminen", "okm_valtionavustusten_hakeminen"],
    "konsernipalvelut": [
        "vero_veroasioiden_hoito",
        "tulorekisteri_loki_rajapinta_ja_ilmoitustietojen_kasittely",
        "tulorekisteri_palkkatietojen_katselu",
    ],
    "talouspalvelut": [
        "tulorekisteri_palkkatietojen_ilmoittaminen",
        "tulorekisteri_palkkatietojen_katselu",
        "vero_veroilmoittaminen",
        "tulorekisteri_etuustietojen_ilmoittaminen",
    ],
    "sivistystoimi": ["okm_valtionavustusten_hakemisen_valmistelu", "okm_valtionavustusten_hakeminen"],
    "varhaiskasvatus": [
        "kela_etuustietojen_katselu_ja_maksuvaatimusten_rekisterointi",
        "tulorekisteri_etuustietojen_katselu",
    ],
    "hyvinvointipalvelut": [
        "kela_etuustietojen_katselu_ja_maksuvaatimusten_rekisterointi",
        "kela_tyomarkkinatukiaineistojen_tarkastelu",
        "tulorekisteri_etuustietojen_katselu",
    ],
    "tyollisyyspalvelut": ["kela_tyomarkkinatukiaineistojen_tarkastelu", "keha_valtionavustusten_hakeminen"],
    "kaupunkikehitys": ["traficom_ajoneuvotietojen_katselu", "luvat_ja_valvonta_viranomaiskasittely"],
    "kuntatekniikka": [
        "traficom_ajoneuvon_rekisterointi",
        "traficom_ajoneuvotietojen_katselu",
        "traficom_ajoneuvoverotusasiat",
        "tulli_tulliselvittaminen",
    ],
    "elinvoima": [
        "business_finland_yritysrahoituksen_hakeminen",
        "ruokavirasto_tuonti_ja_vientitodistusten_hakeminen",
        "tulli_intrastat_tilastoilmoitukset",
    ],
}


def demo_authorization_list(session: Session, organisation: Organisation, today: date) -> bytes:
    """The spreadsheet a pääkäyttäjä would have kept: existing authorizations as a CSV in Finnish Excel's format.

    Deterministic for a given day; dates are relative to it so the demo always has some authorizations
    expiring soon, some reviews overdue, a few without an end date and some that already ended.
    """
    from .importer import EXPORT_HEADERS
    from .tabular import write_csv

    codes = {
        c.key: c
        for c in session.scalars(select(AuthorizationCode).where(AuthorizationCode.organisation_id == organisation.id))
    }
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.organisation_id == organisation.id))}
    rows = []
    people = session.scalars(
        select(Person).where(Person.organisation_id == organisation.id, Person.active.is_(True)).order_by(Person.id)
    )
    for person in people:
        unit = units.get(person.unit_id)
        keys = [k for k in UNIT_CODES.get(unit.key if unit else "", []) if k in codes]
        if not keys:
            continue
        rng = random.Random(person.email)
        for key in rng.sample(keys, k=min(len(keys), rng.randint(1, 3))):
            start = today - timedelta(days=rng.randint(20, 1100))
            roll = rng.random()
            if roll < 0.06:
                end, status, note = None, "voimassa", "Päättymispäivä puuttuu vanhasta listasta"
            elif roll < 0.2:
                end, status, note = today + timedelta(days=rng.randint(5, 75)), "voimassa", ""
            elif roll < 0.3:
                end, status, note = today - timedelta(days=rng.randint(5, 300)), "päättynyt", ""
            else:
                end, status, note = start + timedelta(days=rng.randint(500, 1400)), "voimassa", ""
                if end < today:
                    status = "päättynyt"
            rows.append(
                [
                    person.name,
                    person.email,
                    (unit.name or {}).get("fi", "") if unit else "",
                    codes[key].name.get("fi", key),
                    "asiointivaltuus",
                    start,
                    end,
                    status,
                    None,
                    note,
                ]
            )
    return write_csv(list(EXPORT_HEADERS), rows)


def load_demo_authorizations(session: Session, organisation: Organisation, now: datetime) -> int:
    """Bring the demo's existing list in through the importer, once (only into an empty registry)."""
    from . import importer
    from .clock import local_date

    if session.scalar(select(Authorization.id).where(Authorization.organisation_id == organisation.id).limit(1)):
        return 0
    data = demo_authorization_list(session, organisation, local_date(now))
    plan = importer.plan_import(session, organisation.id, data, "demo-valtuudet.csv", today=local_date(now))
    summary = importer.apply_import(session, organisation.id, plan, actor_id=None, now=now)
    return summary.created
