"""Benchmark of the analysts' named queries on a fresh embedded ClickHouse holding 10 million observations.

Lives in bench/, outside the package: fills a new chDB directory through the worker's own insert
path (ClickHouseWriter, so the materialized views run as in production), then times each query.

    .venv/bin/python bench/analyst_queries.py --rows 10000000 --dir /tmp/hcp-bench
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from haochaping.catalog import default_catalog  # noqa: E402
from haochaping.rows import CASE_STEP_COLUMNS, OBSERVATION_COLUMNS  # noqa: E402
from haochaping.simulation import DEFAULT_PROVINCES  # noqa: E402
from sinks import reports  # noqa: E402
from sinks.analytics import read_only_client  # noqa: E402
from sinks.clickhouse import open_clickhouse  # noqa: E402
from sinks.writer import ClickHouseWriter  # noqa: E402

BATCH = 100_000
START = datetime(2026, 8, 1, tzinfo=UTC)
DAYS = 90
REASONS_BY_STEP = {
    "GUIDE": ("GUIDE_UNCLEAR", "STANDARD_MISMATCH"),
    "IDENTITY": ("IDENTITY_FAIL", "SYSTEM_ERROR"),
    "APPLY": ("SYSTEM_ERROR", "NOT_AVAILABLE_ONLINE"),
    "SUBMIT": ("REPEAT_MATERIALS", "MULTIPLE_TRIPS"),
    "ACCEPT": ("ATTITUDE", "WINDOW_INEFFECTIVE", "PROXY_ONLY"),
    "VERIFY": ("REPEAT_MATERIALS", "ECERT_NOT_RECOGNISED"),
    "DATA_SHARE": ("DATA_NOT_SHARED", "ECERT_NOT_RECOGNISED"),
    "TRANSFER": ("DELAY", "BUCK_PASSING"),
    "REVIEW": ("STANDARD_MISMATCH", "DELAY"),
    "DECIDE": ("DELAY",),
    "PAYMENT": ("SYSTEM_ERROR",),
    "DELIVER": ("DELIVERY_PROBLEM", "DELAY"),
    "NOTIFY": ("NO_FEEDBACK",),
}


def processes() -> list[tuple[str, str, list[tuple[str, str, int]]]]:
    catalog = default_catalog()
    found = []
    for code, matter in catalog.matters.items():
        for mode, process in matter.processes.items():
            steps = [(spec.step.value, spec.role.value, spec.limit_days) for spec in process.steps]
            found.append((code, mode.value, steps))
    return found


def fill(directory: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    options = processes()
    provinces = list(DEFAULT_PROVINCES)
    offsets = {"obs": 0, "steps": 0}
    started = time.perf_counter()
    with open_clickhouse(f"chdb://{directory}", owner="bench") as client:
        writer = ClickHouseWriter(client)
        observations: list[tuple[object, ...]] = []
        steps: list[tuple[object, ...]] = []
        written = 0
        rating = 0
        while written < rows:
            rating += 1
            matter, mode, process = rng.choice(options)
            home, away = rng.sample(provinces, 2)
            at = START + timedelta(seconds=rng.random() * DAYS * 86_400)
            level = rng.choices((5, 4, 3, 2, 1), (60, 20, 9, 7, 4))[0]
            blamed = rng.choice(process)[0] if level <= 2 else ""
            for step, role, limit in process:
                province = away if role == "HANDLING" else home
                weight = 1.0 if step == blamed else 0.0
                reason = rng.choice(REASONS_BY_STEP[step]) if weight else None
                offsets["obs"] += 1
                observations.append(
                    (
                        f"R{rating}",
                        at,
                        province,
                        matter,
                        mode,
                        step,
                        role,
                        f"{province}-{role}",
                        level,
                        weight,
                        reason,
                        "bench.obs",
                        0,
                        offsets["obs"],
                    )
                )
                if rating % 2 == 0:  # a completed step for every other rated case
                    days = rng.expovariate(1 / max(limit * 0.6, 0.1))
                    offsets["steps"] += 1
                    steps.append(
                        (
                            f"C{rating}",
                            matter,
                            mode,
                            step,
                            f"{province}-{role}",
                            f"{province} {role}",
                            province,
                            role,
                            at - timedelta(days=days + 1),
                            at - timedelta(days=1),
                            days,
                            limit,
                            1 if days > limit else 0,
                            1 if rng.random() < 0.05 else 0,
                            0,
                            home if step == "TRANSFER" else "",
                            away if step == "TRANSFER" else "",
                            days if step == "TRANSFER" else None,
                            "bench.steps",
                            0,
                            offsets["steps"],
                        )
                    )
                written += 1
            if len(observations) >= BATCH:
                writer.write({"step_observations": observations, "case_steps": steps})
                observations, steps = [], []
                elapsed = time.perf_counter() - started
                print(f"  {written:,} observations in {elapsed:.0f} s", file=sys.stderr, end="\r")
        writer.write({"step_observations": observations, "case_steps": steps})
    assert len(OBSERVATION_COLUMNS) == 14 and len(CASE_STEP_COLUMNS) == 21
    print(f"filled {written:,} observations, {offsets['steps']:,} case steps in {time.perf_counter() - started:.0f} s")


def time_queries(directory: Path, repeats: int) -> None:
    client, run = read_only_client(f"chdb://{directory}", owner="bench")
    counts = run(
        "SELECT (SELECT count() FROM step_observations), (SELECT count() FROM step_stats_hourly), "
        "(SELECT count() FROM step_stats_daily), (SELECT count() FROM case_steps)",
        {},
    ).rows[0]
    print(
        f"step_observations {counts[0]:,}  step_stats_hourly {counts[1]:,}  step_stats_daily {counts[2]:,}  "
        f"case_steps {counts[3]:,}"
    )
    week = reports.resolve_period(run)
    quarter = reports.Period(START, START + timedelta(days=DAYS), START - timedelta(days=28))
    some = reports.Filters()
    one = reports.Filters(matter="HCP-YB-JYBA", step="DATA_SHARE", province="340000")
    cases = [
        ("priorities, last 7 days (hourly)", lambda: reports.priorities(run, week, some)),
        ("priorities, 90 days (daily)", lambda: reports.priorities(run, quarter, some)),
        ("compare (对标), 7 days", lambda: reports.comparison(run, week, one)),
        ("reducible, 90 days", lambda: reports.reducible(run, quarter, some)),
        ("handoffs, 7 days (raw tables)", lambda: reports.handoffs(run, week, some)),
        ("trend by day, 90 days", lambda: reports.trend(run, quarter, one)),
        ("heatmap, 7 days", lambda: reports.query(run, "heatmap", week, some)),
        ("dashboard payload, 7 days", lambda: reports.dashboard_payload(run, week, some, {})),
        ("aggregate check (full recompute)", lambda: reports.query(run, "aggregate_check", week, some)),
    ]
    print(f"{'query':40} median of {repeats} (s)")
    for label, call in cases:
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
        print(f"{label:40} {statistics.median(times):8.3f}")
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="observations to insert (10M)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/hcp-bench"), help="a new chDB directory")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="time the queries on an existing directory")
    args = parser.parse_args()
    if not args.reuse:
        if args.dir.exists():
            parser.error(f"{args.dir} exists: give a new directory (or --reuse)")
        fill(args.dir, args.rows, args.seed)
    time_queries(args.dir, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
