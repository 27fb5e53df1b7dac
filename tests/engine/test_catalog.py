"""The code catalog and its rules (engine/catalog*.py): loading, the lock on codes in use, replacing,
withdrawing with both policies, and search."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from engine import catalog, catalog_read
from engine.catalog_load import load_catalog
from engine.directory import load_yaml, upsert_organisation
from engine.errors import ConflictError, FormValidationError, NotFoundError
from engine.models import AuditEvent, Authorization, AuthorizationCode, Notification, Organisation
from engine.options import option_sources
from tests.conftest import request_form
from tests.engine.test_revocation import add_active

TODAY = date.today()
KELA = "kela_etuustietojen_katselu_ja_maksuvaatimusten_rekisterointi"
LABOUR = "kela_tyomarkkinatukiaineistojen_tarkastelu"


def code_id(host, key: str) -> int:
    with host.db.reader() as s:
        return s.scalar(select(AuthorizationCode.id).where(AuthorizationCode.key == key))


def code(host, key_or_id) -> AuthorizationCode:
    with host.db.reader() as s:
        if isinstance(key_or_id, int):
            return s.get(AuthorizationCode, key_or_id)
        return s.scalar(select(AuthorizationCode).where(AuthorizationCode.key == key_or_id))


def org_id(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(Organisation.id).where(Organisation.key != "toinen").order_by(Organisation.id))


def held(host, holder_id: int, key: str, status: str = "active") -> int:
    authorization_id = add_active(
        host, holder_id, code_id(host, key), registered=TODAY - timedelta(days=30), until=TODAY + timedelta(days=300)
    )
    if status != "active":
        with host.db.unit_of_work() as s:
            s.get(Authorization, authorization_id).status = status
    return authorization_id


def audit_count(host) -> int:
    with host.db.reader() as s:
        return s.scalar(select(func.count(AuditEvent.id)))


def update(host, key: str, changes: dict):
    with host.db.unit_of_work() as s:
        return catalog.update_code(s, org_id(host), code_id(host, key), changes, actor_id=None, now=host.clock())


def test_loading_the_catalog_twice_changes_nothing(host):
    before_audit = audit_count(host)
    with host.db.reader() as s:
        before = [(c.key, c.name, c.description, c.status, c.updated_at) for c in s.scalars(select(AuthorizationCode))]
    with host.db.unit_of_work() as s:
        result = load_catalog(s, s.get(Organisation, org_id(host)), host.settings.codes_file)
    with host.db.reader() as s:
        after = [(c.key, c.name, c.description, c.status, c.updated_at) for c in s.scalars(select(AuthorizationCode))]
    assert not result.changed and before
    assert sorted(after, key=str) == sorted(before, key=str) and audit_count(host) == before_audit


def test_loading_never_rewrites_a_code_in_use_but_brings_corrections_to_unused_ones(host, people):
    held(host, people["employee"], KELA, status="expired")
    used_before = code(host, KELA)
    doc = copy.deepcopy(load_yaml(host.settings.codes_file))
    for entry in doc["codes"]:
        if entry["key"] in (KELA, LABOUR):
            entry["name"] = {**entry["name"], "fi": "Korjattu nimi"}
            entry["services"] = ["Uusi palvelu"]
    with host.db.unit_of_work() as s:
        result = load_catalog(s, s.get(Organisation, org_id(host)), doc)
    assert result.updated == 1
    assert code(host, KELA).name == used_before.name and code(host, KELA).services == used_before.services
    assert code(host, LABOUR).name["fi"] == "Korjattu nimi" and code(host, LABOUR).services == ["Uusi palvelu"]


def test_a_new_code_in_the_file_that_replaces_an_old_one_is_linked_both_ways(host):
    doc = copy.deepcopy(load_yaml(host.settings.codes_file))
    newer = copy.deepcopy(next(e for e in doc["codes"] if e["key"] == LABOUR))
    newer.update(key=LABOUR + "_2", replaces=LABOUR, status="active")
    doc["codes"].append(newer)
    with host.db.unit_of_work() as s:
        load_catalog(s, s.get(Organisation, org_id(host)), doc)
    assert code(host, LABOUR + "_2").replaces_id == code_id(host, LABOUR)
    assert code(host, LABOUR).replaced_by_id == code_id(host, LABOUR + "_2")


@pytest.mark.parametrize("status", ["active", "expired", "requested", "revoked"])
@pytest.mark.parametrize("field", ["key", "name", "description"])
def test_a_code_any_authorization_uses_refuses_a_new_identifier_name_or_description(host, people, status, field):
    held(host, people["employee"], KELA, status=status)
    before, before_audit = code(host, KELA), audit_count(host)
    value = {"key": "kela_uusi_koodi", "name": {"fi": "Uusi nimi"}, "description": {"fi": "Uusi kuvaus."}}[field]
    with pytest.raises(catalog.CodeInUseError) as refused:
        update(host, KELA, {field: value, "agency": "Kela (muutettu)"})
    assert refused.value.params == {"fields": [field], "authorizations": 1}
    after = code(host, KELA)
    assert (after.key, after.name, after.description, after.agency) == (
        before.key,
        before.name,
        before.description,
        before.agency,
    )
    assert audit_count(host) == before_audit


def test_a_code_in_use_may_still_change_its_services_warning_and_agency_and_the_change_is_audited(host, people):
    held(host, people["employee"], KELA)
    same_name = code(host, KELA).name
    update(
        host,
        KELA,
        {
            "name": same_name,
            "services": ["Kelmu", " Kelmu "],
            "agency": "Kela (Kelmu)",
            "warning": {"fi": "Älä sekoita tulorekisterin koodiin."},
            "confusable_with": [LABOUR],
        },
    )
    after = code(host, KELA)
    assert after.services == ["Kelmu"] and after.warning == {"fi": "Älä sekoita tulorekisterin koodiin."}
    with host.db.reader() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.code_updated")).one()
    assert event.details["after"]["services"] == ["Kelmu"] and "name" not in event.details["after"]


def test_an_unused_code_may_be_renamed_and_codes_that_warn_of_it_follow_its_new_identifier(host):
    update(host, KELA, {"confusable_with": [LABOUR]})
    update(
        host,
        LABOUR,
        {
            "name": {"fi": "Työmarkkinatuen aineistot", "sv": "Material om arbetsmarknadsstöd"},
            "key": "kela_tyomarkkinatuki",
        },
    )
    renamed = code(host, "kela_tyomarkkinatuki")
    assert renamed.name == {"fi": "Työmarkkinatuen aineistot", "sv": "Material om arbetsmarknadsstöd"}
    assert code(host, KELA).confusable_with == ["kela_tyomarkkinatuki"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"key": "Iso Kirjain"}, "key"),
        ({"key": LABOUR}, "key"),
        ({"name": {"sv": "Bara svenska"}}, "name"),
        ({"name": {"fi": "x" * 201}}, "name"),
        ({"confusable_with": ["ei_tallaista_koodia"]}, "confusable_with"),
        ({"status": "withdrawn"}, "status"),
        ({"mandate_type": "everything"}, "mandate_type"),
        ({"warning": {"fi": "NUL\x00"}}, "warning"),
        ({"category_id": 2**40}, "category_id"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(host, changes, field):
    with pytest.raises(catalog.CatalogInputError) as refused:
        update(host, KELA, changes)
    assert refused.value.params["field"] == field


def test_another_organisations_code_is_not_found(host):
    with host.db.unit_of_work() as s:
        other = upsert_organisation(
            s,
            {
                "organisation": {"key": "toinen", "name": {"fi": "Toinen"}, "business_id": "0000000-0"},
                "units": [],
                "people": [],
            },
        )
        other_id = other.id
    with pytest.raises(NotFoundError), host.db.unit_of_work() as s:
        catalog.update_code(s, other_id, code_id(host, KELA), {"agency": "X"}, actor_id=None, now=host.clock())


def replace(host, old_key: str, **values) -> AuthorizationCode:
    with host.db.unit_of_work() as s:
        return catalog.replace_code(s, org_id(host), code_id(host, old_key), values, actor_id=None, now=host.clock())


def withdraw(host, key: str, policy: str, actor_id=None) -> catalog.Withdrawal:
    with host.db.unit_of_work() as s:
        return catalog.withdraw_code(host, s, org_id(host), code_id(host, key), policy=policy, actor_id=actor_id)


def test_replacing_a_code_makes_an_active_code_that_points_back_and_keeps_the_agency(host, people):
    held(host, people["employee"], KELA)
    new = replace(host, KELA, key=KELA + "_2026", name={"fi": "Etuustietojen katselu"})
    old = code(host, KELA)
    assert (new.status, new.replaces_id, new.agency) == ("active", old.id, "Kela")
    assert old.replaced_by_id == new.id and old.status == "active"
    with pytest.raises(ConflictError):
        replace(host, KELA, key=KELA + "_toinen", name={"fi": "Toinen"})


def offered(host) -> set[int]:
    with host.db.reader() as s:
        return {o["const"] for o in option_sources(s, org_id(host))["authorization_codes"]()}


def test_hidden_keeps_authorizations_valid_and_offers_the_code_to_no_new_request(host, people):
    authorization_id = held(host, people["employee"], KELA)
    result = withdraw(host, KELA, "hidden")
    assert result.revocations == [] and code(host, KELA).status == "hidden"
    assert code(host, KELA).withdrawn_on is not None and code(host, KELA).withdrawal_policy == "hidden"
    with host.db.reader() as s:
        assert s.get(Authorization, authorization_id).status == "active"
    assert code_id(host, KELA) not in offered(host) and code_id(host, LABOUR) in offered(host)
    with pytest.raises(FormValidationError):
        host.start_request(people["employee"], people["employee"], request_form([code_id(host, KELA)]))
    with pytest.raises(ConflictError):
        withdraw(host, KELA, "hidden")


def test_removed_starts_revocations_and_tells_holders_and_directors_which_code_replaces_it(host, people):
    first = held(host, people["employee"], KELA)
    ended = held(host, people["anstalld"], KELA, status="expired")
    new = replace(host, KELA, key=KELA + "_2026", name={"fi": "Etuustietojen katselu", "sv": "Granska förmåner"})
    with host.db.reader() as s:
        assert catalog.impact(s, org_id(host), code_id(host, KELA)) == catalog.Impact(1, 1, 0)
    result = withdraw(host, KELA, "removed", actor_id=people["admin"])
    assert len(result.revocations) == 1 and code(host, KELA).status == "withdrawn"
    with host.db.reader() as s:
        assert s.get(Authorization, first).status == "revoking"
        assert s.get(Authorization, ended).status == "expired"
        notes = list(s.scalars(select(Notification).where(Notification.kind == "code_withdrawn")))
    assert {n.recipient_id for n in notes} >= {people["employee"], people["director"]}
    assert all(n.context["replacement"]["key"] == new.key for n in notes)
    from engine import notifications

    text = notifications.render("code_withdrawn", "sv", notes[0].context, "http://x").text
    assert new.key in text and "Granska förmåner" in text
    with pytest.raises(ConflictError):
        withdraw(host, KELA, "hidden")


def test_a_hidden_code_may_later_be_removed(host, people):
    authorization_id = held(host, people["employee"], KELA)
    withdraw(host, KELA, "hidden")
    assert len(withdraw(host, KELA, "removed").revocations) == 1
    with host.db.reader() as s:
        assert s.get(Authorization, authorization_id).status == "revoking"


def search(host, q: str, **kwargs) -> list[str]:
    with host.db.reader() as s:
        return [c.key for c in catalog_read.search(s, org_id(host), q, **kwargs)]


def test_search_finds_codes_by_swedish_name_and_by_finnish_name_typed_without_umlauts(host):
    assert search(host, "arbetsmarknadsstöd")[0] == LABOUR
    assert search(host, "TYOMARKKINATUKI")[0] == LABOUR
    assert search(host, "maksuvaatimusten rekisteröinti") == [KELA]
    assert KELA in search(host, "kela") and search(host, "ei löydy mitään tällaista") == []


def test_search_shows_only_the_statuses_asked_for(host):
    withdraw(host, LABOUR, "hidden")
    assert search(host, "arbetsmarknadsstöd") == []
    assert search(host, "arbetsmarknadsstöd", statuses=("active", "hidden")) == [LABOUR]
