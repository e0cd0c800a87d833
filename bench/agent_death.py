"""The cost of one agent's death at the server: the targeted failover vs the full reschedule.

    python bench/agent_death.py [--routers 1000] [--repeat 7] [--db sqlite|postgresql|both]

A synthetic cloud (`sim.synthetic`: 20 hosts, 2 of them `dvr_snat` network hosts,
2 VMs per router, every tenth with a floating IP) is stored in a fresh database
(`sim.stored`) with its placement: each network host holds the SNAT of half the
routers. The first network host's heartbeat is then made too old, and each method
runs in one transaction from that same state, rolled back after being timed (the
change records included):

  targeted   scheduler.failover.notice_agents: notices the death, moves the dead
             host's routers (what the server's timer runs);
  full       scheduler.store.reschedule: loads the whole cloud and places every
             router (what an API write runs), then records the same agent change.

Both must move the same routers to the same host (checked). Prints the median and
the best time of each, and the ratio full / targeted.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

from neutrino.db import schema
from neutrino.db.database import Database, Tx, utcnow
from neutrino.scheduler.failover import notice_agents
from neutrino.scheduler.store import reschedule
from neutrino.sim.stored import store_cloud
from neutrino.sim.synthetic import synthetic_cloud

DOWN = 75
REPO = Path(__file__).resolve().parents[1]


def fresh_database(kind: str, directory: str) -> Database:
    if kind == "sqlite":
        url = f"sqlite:///{directory}/agent_death.db"
    else:
        url = subprocess.run(
            ["bash", str(REPO / "scripts" / "postgres"), "createdb", "neutrino_bench_agent_death"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    db = Database(url)
    schema.metadata.create_all(db.engine)
    db.write(lambda tx: tx.execute(insert(schema.change_counter).values(id=1, seq=0)))
    return db


def timed(db: Database, method) -> tuple[float, dict]:
    """Run `method(tx)` in a transaction, record its changes, time it, roll it back."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            conn.info["begin"] = "IMMEDIATE"
        with conn.begin() as t:
            tx = Tx(conn, serialized=db.is_sqlite)
            started = time.perf_counter()
            method(tx)
            Database._record_changes(tx)
            elapsed = time.perf_counter() - started
            B, A = schema.router_agent_bindings, schema.agents
            bound = dict(
                conn.execute(select(B.c.router_id, A.c.host).join(A, A.c.id == B.c.agent_id)).all()
            )
            t.rollback()
    return elapsed, bound


def run(kind: str, routers: int, repeat: int) -> dict:
    cloud, placement, _ = synthetic_cloud(20, 2 * routers, routers)
    with tempfile.TemporaryDirectory() as directory:
        db = fresh_database(kind, directory)
        now = utcnow()
        db.write(lambda tx: store_cloud(tx, cloud, placement.central))
        dead = "net0000"
        on_dead = sum(1 for hosts in placement.central.values() if dead in hosts)
        A = schema.agents
        db.write(
            lambda tx: tx.execute(
                update(A)
                .where(A.c.host == dead)
                .values(heartbeat_timestamp=now - timedelta(seconds=DOWN + 5))
            )
        )

        def full(tx):
            reschedule(tx, now, DOWN)
            tx.changed("agent", dead, "update", "", 0)

        times: dict[str, list[float]] = {"targeted": [], "full": []}
        results = {}
        for _ in range(repeat):
            for name, method in (
                ("targeted", lambda tx: notice_agents(tx, now, DOWN)),
                ("full", full),
            ):
                elapsed, bound = timed(db, method)
                times[name].append(elapsed * 1000)
                results[name] = bound
        db.engine.dispose()
    moved = sum(1 for r, h in results["targeted"].items() if placement.central[r] != (h,))
    assert results["targeted"] == results["full"], "the two methods placed differently"
    assert moved == on_dead, (moved, on_dead)
    return {
        "db": kind,
        "routers": routers,
        "moved": moved,
        "targeted": times["targeted"],
        "full": times["full"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--routers", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = p.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    print(
        "| database | routers | moved | targeted ms (median / best) | full ms (median / best)"
        " | full / targeted |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for kind in kinds:
        r = run(kind, args.routers, args.repeat)
        t, f = statistics.median(r["targeted"]), statistics.median(r["full"])
        print(
            f"| {kind} | {r['routers']:,} | {r['moved']} | {t:.1f} / {min(r['targeted']):.1f}"
            f" | {f:.1f} / {min(r['full']):.1f} | {f / t:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
