"""Checking an organisation's audit chain (``valtuus audit verify``, the pääkäyttäjä's /admin/audit).

The walk goes through the events in ``seq`` order and stops at the first break:

- ``hash_mismatch`` (modified): the event's content no longer gives its hash;
- ``seq_gap`` (deleted): numbers are missing before this event; ``head_behind``: missing from the end;
- ``seq_duplicate`` (inserted): a second event with the same number; ``prev_hash_mismatch`` (inserted or
  reordered): the event does not follow the one before it; ``unchained``: a row written past engine/audit.py;
  ``head_ahead``: events after the recorded end of the chain;
- ``head_mismatch`` (modified): the last event is not the one the chain head recorded.

Someone able to rewrite the whole table and the head consistently is not caught here; writing the last hash down
elsewhere now and then (it is shown on /admin/audit) catches that too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import CHAIN_COLUMNS, GENESIS, event_hash
from .models import AuditChainHead, AuditEvent

KINDS = {
    "hash_mismatch": "modified",
    "head_mismatch": "modified",
    "seq_gap": "deleted",
    "head_behind": "deleted",
    "seq_duplicate": "inserted",
    "prev_hash_mismatch": "inserted",
    "unchained": "inserted",
    "head_ahead": "inserted",
}


@dataclass(frozen=True)
class ChainBreak:
    reason: str  # a key of KINDS
    seq: int | None  # the place in the chain where it shows (None: a row without a place)
    event_id: int | None
    expected_seq: int | None = None  # seq_gap / head_behind: the first missing number
    other_event_id: int | None = None  # seq_duplicate: the other event with the same number

    @property
    def kind(self) -> str:
        """modified, deleted or inserted."""
        return KINDS[self.reason]


@dataclass(frozen=True)
class VerifyResult:
    length: int  # events checked in the chain
    last_seq: int
    last_hash: str
    problem: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(session: Session, organisation_id: int) -> VerifyResult:
    """Walk the organisation's chain; the first break found, or OK with the chain's length and last hash."""
    head = _head(session, organisation_id)
    limit = head[0] if head else 0  # events committed after this read are checked next time
    last_seq, last_hash, length = 0, GENESIS, 0
    previous_id = None
    rows = session.execute(
        select(*CHAIN_COLUMNS, AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)
        .where(AuditEvent.organisation_id == organisation_id, AuditEvent.seq.is_not(None), AuditEvent.seq <= limit)
        .order_by(AuditEvent.seq, AuditEvent.id)
        .execution_options(yield_per=2000)
    ).mappings()
    for row in rows:
        problem = _check(row, last_seq, last_hash, previous_id)
        if problem:
            return VerifyResult(length, last_seq, last_hash, problem)
        last_seq, last_hash, previous_id, length = row["seq"], row["hash"], row["id"], length + 1
    problem = _check_end(session, organisation_id, head, last_seq, last_hash, previous_id)
    return VerifyResult(length, last_seq, last_hash, problem)


def _check(row, last_seq: int, last_hash: str, previous_id: int | None) -> ChainBreak | None:
    seq, event_id = row["seq"], row["id"]
    if seq == last_seq:
        return ChainBreak("seq_duplicate", seq, event_id, other_event_id=previous_id)
    if seq != last_seq + 1:
        return ChainBreak("seq_gap", seq, event_id, expected_seq=last_seq + 1)
    if event_hash(row, seq, row["prev_hash"] or "") != row["hash"]:
        return ChainBreak("hash_mismatch", seq, event_id)
    if row["prev_hash"] != last_hash:
        return ChainBreak("prev_hash_mismatch", seq, event_id)
    return None


def _check_end(session, organisation_id, head, last_seq, last_hash, last_id) -> ChainBreak | None:
    unchained = session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.organisation_id == organisation_id, AuditEvent.seq.is_(None))
        .order_by(AuditEvent.id)
        .limit(1)
    )
    if unchained is not None:
        return ChainBreak("unchained", None, unchained)
    head_seq, head_hash = head or (0, GENESIS)
    if last_seq < head_seq:
        return ChainBreak("head_behind", head_seq, None, expected_seq=last_seq + 1)
    if last_hash != head_hash:
        return ChainBreak("head_mismatch", last_seq, last_id)
    if _head(session, organisation_id) == head:  # nobody appended meanwhile: nothing may lie beyond the head
        beyond = session.execute(
            select(AuditEvent.seq, AuditEvent.id)
            .where(AuditEvent.organisation_id == organisation_id, AuditEvent.seq > head_seq)
            .order_by(AuditEvent.seq, AuditEvent.id)
            .limit(1)
        ).first()
        if beyond is not None:
            return ChainBreak("head_ahead", beyond.seq, beyond.id)
    return None


def _head(session: Session, organisation_id: int) -> tuple[int, str] | None:
    row = session.execute(
        select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(
            AuditChainHead.organisation_id == organisation_id
        )
    ).first()
    return (row.last_seq, row.last_hash) if row else None
