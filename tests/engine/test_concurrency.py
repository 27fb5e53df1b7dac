"""Two people completing one task at the same moment: exactly one wins, the other gets a conflict."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from engine.errors import NotAllowedError, TaskConflictError
from engine.models import AuditEvent
from tests.conftest import request_form


def test_two_concurrent_completions_of_one_task_let_exactly_one_succeed(host, people, codes):
    started = host.start_request(people["employee"], people["employee"], request_form(codes[:1]))
    endorsed = host.complete_task(people["supervisor"], started.ready_task_ids[0], {"endorsement_decision": "endorse"})
    task_id = endorsed.ready_task_ids[0]  # the director and the deputy may both decide
    with host.db.reader() as s:
        from engine.models import HumanTaskOwner

        deciders = list(s.scalars(select(HumanTaskOwner.person_id).where(HumanTaskOwner.task_id == task_id)))
    assert len(deciders) == 2

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(person_id: int, decision: str) -> None:
        barrier.wait()
        try:
            host.complete_task(person_id, task_id, {"approval_decision": decision, "approval_reason": "kiireellinen"})
            outcomes.append("ok")
        except TaskConflictError:
            outcomes.append("conflict")
        except NotAllowedError:
            outcomes.append("not allowed")

    threads = [
        threading.Thread(target=decide, args=(deciders[0], "approve")),
        threading.Thread(target=decide, args=(deciders[1], "reject")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) == ["conflict", "ok"]
    with host.db.reader() as s:
        decisions = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.instance_id == started.instance_id,
                AuditEvent.action == "task.completed",
                AuditEvent.task_id == task_id,
            )
        )
    assert decisions == 1
