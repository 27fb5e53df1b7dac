"""Authorization-request lifecycle benchmark: prints figures only (see bench/README.md).

(a) SpiffWorkflow alone, in memory; (b) persisted the way the library documents it (default serializer,
spec embedded, a JSON row per instance in plain SQLite); (c) our host through Flask's test client.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import os
import platform
import pstats
import re
import sqlite3
import statistics
import tempfile
import time
import warnings
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import TaskState
from sqlalchemy import select

from engine import migrate
from engine.config import Settings
from engine.db import Database
from engine.demo import load_demo
from engine.models import AuthorizationCode, Person
from engine.runtime import Host
from web import create_app

warnings.filterwarnings("ignore", category=DeprecationWarning)  # SpiffWorkflow's own deprecations

ROOT = Path(__file__).resolve().parent.parent
DIAGRAM = ROOT / "processes" / "authorization_request" / "authorization_request.bpmn"
PROCESS = "authorization_request"
STEPS = ["fill_request", "endorse_request", "approve_request", "register_in_suomifi"]
ACTORS = dict(zip(STEPS, ["employee", "supervisor", "director", "admin"], strict=True))
# What the host puts into a new instance (engine.runtime.Host._initial_data); (a) and (b) get the same.
INITIAL = {"policy": {"supervisor_endorsement": True},
           "requester": {"id": 1, "name": "Emilia Esimerkki", "unit_id": 3, "has_supervisor": True},
           "started_by_supervisor": False}
TARGET_CA, TARGET_CB, TARGET_KB = 8.0, 0.5, 5
READY_TASK = "SELECT id FROM human_tasks WHERE instance_id = ? AND status = 'ready'"  # the projection
STATE_BYTES = "SELECT length(CAST(state AS BLOB)) FROM process_instances WHERE id = ?"
NOTES = """
Notes: (b) uses SQLite's default rollback journal (synchronous=FULL), 4 commits per lifecycle.
(c) uses the host's settings (WAL, synchronous=NORMAL): 4 transactions that also write the task
projection, registry and audit rows. (c)'s task ids are read from human_tasks outside the timing."""


def forms(codes: list[int]) -> dict[str, dict]:
    """The form data of each step (as tests/conftest.py's request_form / registration_form)."""
    day = lambda n: (date.today() + timedelta(days=n)).isoformat()  # noqa: E731
    return {
        "fill_request": {"codes": codes, "valid_from": day(1), "valid_until": day(366),
                         "justification": "Palkanlaskenta edellyttää tulorekisteri-ilmoituksia."},
        "endorse_request": {"endorsement_decision": "endorse"},
        "approve_request": {"approval_decision": "approve"},
        "register_in_suomifi": {"registration_outcome": "registered", "registered_on": day(0),
                                "registered_valid_from": day(1), "registered_valid_until": day(366),
                                "mandate_type": "transaction"},
    }


# -- (a) SpiffWorkflow alone ------------------------------------------------------------------------
class NoServiceEngine(PythonScriptEngine):
    """SpiffWorkflow's default engine; service tasks are a no-op returning JSON null."""

    def call_service(self, task, **kwargs):
        return "null"


def parse_spec():
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(DIAGRAM))
    return parser.get_spec(PROCESS), parser.get_subprocess_specs(PROCESS)


def new_workflow(spec, subprocess_specs, engine) -> BpmnWorkflow:
    wf = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    wf.data.update(INITIAL)
    wf.task_tree.data.update(wf.data)
    wf.do_engine_steps()
    return wf


def run_step(wf: BpmnWorkflow, bpmn_id: str, data: dict) -> None:
    task = wf.get_next_task(state=TaskState.READY, manual=True)
    if task is None or task.task_spec.bpmn_id != bpmn_id:
        raise RuntimeError(f"expected {bpmn_id} to be ready, got {task}")
    task.data.update(data)
    task.run()
    wf.do_engine_steps()


def lifecycle_memory(spec, subprocess_specs, engine, data) -> None:
    wf = new_workflow(spec, subprocess_specs, engine)
    for bpmn_id in STEPS:
        run_step(wf, bpmn_id, data[bpmn_id])
    if not wf.is_completed():
        raise RuntimeError("(a) did not complete")


# -- (b) the documented way: default serializer, spec embedded, plain SQLite -----------------------
class DocumentedStore:
    def __init__(self, path: Path, spec, subprocess_specs, engine):
        self.spec, self.subprocess_specs, self.engine = spec, subprocess_specs, engine
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.db = sqlite3.connect(path)  # default journal mode (DELETE), synchronous=FULL
        self.db.execute("CREATE TABLE workflows (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")

    def lifecycle(self, data) -> dict[str, int]:
        """Start + fill_request → INSERT; then each step: SELECT, deserialize, run, serialize, UPDATE.
        One commit per step (4, as (c) has 4 requests). Returns bytes stored after each step."""
        sizes, row_id = {}, None
        for bpmn_id in STEPS:
            if row_id is None:
                wf = new_workflow(self.spec, self.subprocess_specs, self.engine)
            else:
                (text,) = self.db.execute("SELECT state FROM workflows WHERE id = ?", (row_id,)).fetchone()
                wf = self.serializer.deserialize_json(text)
                wf.script_engine = self.engine  # not serialized
            run_step(wf, bpmn_id, data[bpmn_id])
            text = self.serializer.serialize_json(wf)
            if row_id is None:
                row_id = self.db.execute("INSERT INTO workflows (state) VALUES (?)", (text,)).lastrowid
            else:
                self.db.execute("UPDATE workflows SET state = ? WHERE id = ?", (text, row_id))
            self.db.commit()
            sizes[bpmn_id] = len(text)
        if not wf.is_completed():
            raise RuntimeError("(b) did not complete")
        return sizes  # serialize_json writes ASCII: len == bytes


# -- (c) our host through Flask's test client ------------------------------------------------------
class HostBench:
    def __init__(self, tmp: Path):
        settings = Settings(database_url=f"sqlite:///{tmp / 'host.sqlite3'}")
        db = Database(settings.database_url)
        migrate.upgrade(db.engine)
        self.host = Host(settings, db=db)
        with db.unit_of_work() as session:
            load_demo(session, settings.demo_file, settings.codes_file)
        self.host.load_processes()
        with db.reader() as session:
            self.people = {p.email.split("@")[0]: p.id for p in session.scalars(select(Person))}
            codes = session.scalars(select(AuthorizationCode.id).order_by(AuthorizationCode.id))
            self.codes = list(codes)[:2]
        self.client = create_app({"VALTUUS_HOST": self.host, "DEMO_SIGN_IN": True, "WTF_CSRF_ENABLED": False,
                                  "SECRET_KEY": "bench", "SIGN_IN_RATE_LIMIT": 10**9}).test_client()
        self.projection = sqlite3.connect(tmp / "host.sqlite3")  # task ids and sizes, read outside the timing

    def post(self, path: str, form: dict) -> str:
        resp = self.client.post(path, data=form)
        if resp.status_code != 303:
            raise RuntimeError(f"POST {path} → {resp.status_code}: {resp.get_data(as_text=True)[:300]}")
        return resp.location

    def scalar(self, sql: str, instance_id: int):
        return self.projection.execute(sql, (instance_id,)).fetchone()[0]

    def lifecycle(self, data, sizes: dict | None = None) -> dict[str, float]:
        """Each actor signs in, then submits their step. Returns seconds per request kind."""
        times, instance_id = {"login": 0.0}, None
        for bpmn_id in STEPS:
            form = {k: [str(x) for x in v] if isinstance(v, list) else v for k, v in data[bpmn_id].items()}
            path = "/requests/new" if instance_id is None else f"/tasks/{self.scalar(READY_TASK, instance_id)}"
            t0 = time.perf_counter()
            self.post("/login", {"person_id": self.people[ACTORS[bpmn_id]]})
            t1 = time.perf_counter()
            location = self.post(path, form)
            times[bpmn_id] = time.perf_counter() - t1
            times["login"] += t1 - t0
            if instance_id is None:
                instance_id = int(location.rstrip("/").rsplit("/", 1)[-1])
            if sizes is not None:
                sizes[bpmn_id] = self.scalar(STATE_BYTES, instance_id)
        ended = self.scalar("SELECT status || ' at ' || outcome FROM process_instances WHERE id = ?", instance_id)
        if ended != "complete at end_active":
            raise RuntimeError(f"(c) instance {instance_id} ended as {ended}")
        return times


# -- measuring and printing ------------------------------------------------------------------------
def measure(fn, n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    gc.collect()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def row(label: str, xs: list[float]) -> str:
    ms = sorted(x * 1000 for x in xs)
    p95 = ms[max(0, math.ceil(0.95 * len(ms)) - 1)]
    return (f"  {label:<44} median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms   "
            f"{len(xs) / sum(xs):8.1f} lifecycles/s")


def target(label: str, value: float, limit: float, unit: str = "", extra: str = "") -> str:
    mark, goal = "met" if value <= limit else "NOT MET", f"≤ {limit:g}{unit}"
    return f"  {label:<24} {f'{value:.2f}{unit}':>9}   target {goal:<8}  {mark:<8} {extra}"


def profile_host(bench: HostBench, data, runs: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [bench.lifecycle(data) for _ in range(runs)])
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    print(f"\n(c) profile of {runs} lifecycle(s), sign-in included, top 15 cumulative:")
    for title, pattern in (("our code", re.escape(str(ROOT)) + r"/(engine|web)/"),
                           ("SpiffWorkflow / SQLAlchemy", r"SpiffWorkflow|sqlalchemy")):
        print(f"--- {title}")
        stats.print_stats(pattern, 15)


def report(a: list[float], b: list[float], per_request: list[dict], size_b: dict, size_c: dict) -> None:
    # (c) is timed per request, so the task-id look-ups between requests stay outside the figures
    c = [sum(v for k, v in t.items() if k != "login") for t in per_request]
    c_with = [sum(t.values()) for t in per_request]
    print("\nPer lifecycle (4 user tasks):")
    print(row("(a) SpiffWorkflow alone, in memory", a))
    print(row("(b) documented: default serializer + SQLite", b))
    print(row("(c) our host via Flask, without sign-in", c))
    print(row("(c) our host via Flask, with 4 sign-ins", c_with))
    ma, mb, mc, mcw = (statistics.median(x) for x in (a, b, c, c_with))
    print("\nTargets (medians; (c) without sign-in):")
    print(target("c/a", mc / ma, TARGET_CA, extra=f"(with sign-in: {mcw / ma:.2f})"))
    print(target("c/b", mc / mb, TARGET_CB, extra=f"(with sign-in: {mcw / mb:.2f})"))
    print(target("(c) state at approval", size_c["approve_request"] / 1024, TARGET_KB, " KB",
                 "(1 KB = 1024 bytes)"))
    print("\nStored bytes per instance:          at approval   at completion")
    for label, sizes in (("(b) JSON row (spec embedded)", size_b), ("(c) process_instances.state", size_c)):
        print(f"  {label:<32} {sizes['approve_request']:>12,}   {sizes['register_in_suomifi']:>13,}")
    print("\n(d) (c) per request, median ms:")
    labels = {"login": "POST /login (each)", STEPS[0]: f"POST /requests/new ({STEPS[0]})"}
    for kind in ["login", *STEPS]:
        values = [t[kind] / (len(STEPS) if kind == "login" else 1) * 1000 for t in per_request]
        print(f"  {labels.get(kind, f'POST /tasks/<id> ({kind})'):<44} {statistics.median(values):8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--lifecycles", type=int, default=250, help="timed lifecycles for (b) and (c)")
    ap.add_argument("--quick", action="store_true", help="about 3 s: 20 lifecycles")
    ap.add_argument("--profile", type=int, default=0, metavar="RUNS",
                    help="afterwards, cProfile RUNS lifecycles of (c) and print where the time goes")
    args = ap.parse_args()
    n = 20 if args.quick else args.lifecycles
    n_memory, warmup = 10 * n, max(3, n // 10)  # (a) is ~20x cheaper: more samples, same wall time

    print("Authorization-request lifecycle: start → fill_request → endorse_request → approve_request → "
          "register_in_suomifi → end")
    print(f"Machine: Python {platform.python_version()} ({platform.machine()}, {os.cpu_count()} CPUs), "
          f"SQLite {sqlite3.sqlite_version}, SpiffWorkflow {version('SpiffWorkflow')}, "
          f"SQLAlchemy {version('SQLAlchemy')}, Flask {version('Flask')}")
    print(f"Runs: (a) {n_memory}, (b) {n}, (c) {n} timed lifecycles after {warmup * 10}, {warmup}, {warmup} "
          "warm-up runs; lifecycles/s = runs / total time")

    with tempfile.TemporaryDirectory(prefix="valtuus-bench-") as tmp:
        bench_c = HostBench(Path(tmp))
        data = forms(bench_c.codes)
        spec, subprocess_specs = parse_spec()
        engine = NoServiceEngine()
        store = DocumentedStore(Path(tmp) / "documented.sqlite3", spec, subprocess_specs, engine)

        a = measure(lambda: lifecycle_memory(spec, subprocess_specs, engine, data), n_memory, warmup * 10)
        b = measure(lambda: store.lifecycle(data), n, warmup)
        per_request: list[dict[str, float]] = []
        measure(lambda: per_request.append(bench_c.lifecycle(data)), n, warmup)
        per_request = per_request[warmup:]
        size_b, size_c = store.lifecycle(data), {}
        bench_c.lifecycle(data, size_c)

        report(a, b, per_request, size_b, size_c)
        print(NOTES)
        if args.profile:
            profile_host(bench_c, data, args.profile)
        for close in (store.db.close, bench_c.projection.close, bench_c.host.db.dispose):
            close()


if __name__ == "__main__":
    main()
