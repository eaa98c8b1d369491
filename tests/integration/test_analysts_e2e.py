"""The analysts' side end to end: `hcp simulate` with an injected incident feeds the real broker and worker;
`hcp report` and `hcp sql` (through the running worker, then directly) find the incident at the top of the
redesign priorities with the right reason; a replay by a second consumer group changes no aggregate, and
the aggregates equal a recomputation from the raw tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from haochaping.settings import Settings
from producers.topics import ensure_topics
from tests.integration.conftest import ROOT, WorkerProcess

INCIDENT = {"province": "340000", "matter": "HCP-YB-JYBA", "step": "DATA_SHARE", "reason": "DATA_NOT_SHARED"}
INCIDENT_SPEC = (
    "province=340000,matter=HCP-YB-JYBA,step=DATA_SHARE,reason=DATA_NOT_SHARED,"
    "start=2026-11-16T00:00:00+08:00,factor=10"
)
# Enough simulated days for ratings to follow their cases (ratings come days after a case starts).
SIMULATED_EVENTS = 160_000
CASES_PER_HOUR = 100
PUBLISH_RATE = 4000  # events per second

class AnalystWorker(WorkerProcess):
    """`hcp worker` with the dashboard and /sql on its Faust web server."""

    def wait_for_web(self, timeout: float = 60.0) -> dict[str, Any]:
        """The worker's announcement in data/worker.json, once its web server answers."""
        from cli.sql import find_worker

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"worker exited with {self._process.returncode}:\n{self.log_tail()}")
            found = find_worker(self.settings)
            if found is not None:
                return found
            time.sleep(0.3)
        raise AssertionError(f"the worker's web server did not come up in {timeout} s:\n{self.log_tail()}")


def hcp(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise AssertionError(f"hcp {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def feed(settings: Settings) -> None:
    """Publish the simulated traffic with the incident through Kafka, as operators would."""
    hcp(
        settings,
        "simulate",
        "--count",
        str(SIMULATED_EVENTS),
        "--cases-per-hour",
        str(CASES_PER_HOUR),
        # Paced so the worker keeps up: a backlog reaches it with ratings ahead of their cases'
        # events (the topics are read independently), and those ratings get no step observations.
        "--rate",
        str(PUBLISH_RATE),
        "--seed",
        "7",
        "--incident",
        INCIDENT_SPEC,
    )


def report_rows(settings: Settings, *args: str) -> list[dict[str, Any]]:
    done = hcp(settings, "report", *args, "--json")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def assert_incident_on_top(rows: Sequence[dict[str, Any]]) -> None:
    assert rows, "no redesign priorities"
    top = rows[0]
    assert (top["province"], top["matter_code"], top["step"]) == (
        INCIDENT["province"],
        INCIDENT["matter"],
        INCIDENT["step"],
    ), json.dumps(rows[:3], ensure_ascii=False)
    assert top["top_reasons"][0][0] == INCIDENT["reason"]
    assert top["rate"] > 2 * top["peer_rate"]
    assert top["sample_comments"], "the top priority shows sample comments"


def aggregate_snapshot(settings: Settings) -> list[list[Any]]:
    done = hcp(
        settings,
        "sql",
        "--format",
        "json",
        "SELECT period, province, matter_code, mode, step, role, org_code, sum(ratings) AS n, "
        "round(sum(negatives), 6) AS w, sum(negative_ratings) AS neg, sumMap(blamed_by_reason) AS reasons, "
        "sumMap(ratings_by_level) AS levels, sum(steps_completed) AS steps, sum(breaches) AS breaches, "
        "sum(sent_back_steps) AS sent_back, round(sum(working_days_sum), 6) AS days "
        "FROM step_stats_daily GROUP BY ALL ORDER BY ALL",
    )
    return [list(json.loads(line).values()) for line in done.stdout.splitlines()]


def test_report_sql_and_replay(pipeline_settings: Settings, tmp_path: Path) -> None:
    settings = pipeline_settings
    ensure_topics(settings)
    first = AnalystWorker(settings, tmp_path / "worker-1.log")
    first.start()
    try:
        # Fed live, as portals do: a backlog would reach the worker with ratings ahead of their cases.
        announced = first.wait_for_web()
        feed(settings)
        first.wait_until_drained(timeout=600)
        assert announced["data_dir"] == str(settings.data_dir.resolve())

        # Through the running worker (it owns the embedded directory).
        rows = report_rows(settings)
        assert_incident_on_top(rows)
        table = hcp(settings, "report", "--limit", "5").stdout
        first_line = next(line for line in table.splitlines() if line.startswith("1 "))
        assert "安徽" in first_line and "异地就医备案" in first_line and "数据共享" in first_line, table
        assert "数据未共享" in first_line
        assert "via the worker" in table

        compare = report_rows(settings, "compare", "--matter", INCIDENT["matter"], "--step", INCIDENT["step"])
        assert {row["province"] for row in compare} >= {"340000", "310000"}
        rates = sorted(row["rate"] for row in compare if row["eligible"])
        incident_row = next(row for row in compare if row["province"] == INCIDENT["province"])
        assert incident_row["rate"] > 2 * rates[len(rates) // 2]  # a small province may be as bad by chance
        assert sum(row["best"] for row in compare) == 1
        assert next(row for row in compare if row["best"])["province"] != INCIDENT["province"]

        reducible = report_rows(settings, "reducible")
        assert any(row["step"] == "DATA_SHARE" and row["reducible_share"] >= 0.5 for row in reducible)
        trend = report_rows(
            settings, "trend", "--province", "340000", "--matter", INCIDENT["matter"], "--step", "DATA_SHARE"
        )
        assert trend and all(row["ratings"] >= 0 for row in trend)
        assert report_rows(settings, "handoffs") is not None

        counted = hcp(settings, "sql", "--format", "tsv", "SELECT count() AS n FROM ratings").stdout.splitlines()
        assert counted[0] == "n" and int(counted[1]) > 1000
        refused = hcp(settings, "sql", "DROP TABLE ratings", check=False)
        assert refused.returncode == 1 and "readonly" in refused.stderr.lower(), refused.stderr
        refused = hcp(settings, "sql", "SELECT * FROM file('/etc/passwd', 'LineAsString')", check=False)
        assert refused.returncode == 1, refused.stdout
        two = hcp(settings, "sql", "SELECT 1; SELECT 2", check=False)
        assert two.returncode == 2 and "one statement" in two.stderr

        before = aggregate_snapshot(settings)
        raw_before = hcp(
            settings,
            "sql",
            "--format",
            "tsv",
            "SELECT (SELECT count() FROM step_observations), (SELECT count() FROM case_steps)",
        ).stdout
    finally:
        stopped = first.stop()
    assert stopped == 0, first.log_tail()

    # A second consumer group replays both topics from the start into the same ClickHouse.
    replay_settings = settings.with_changes(consumer_group=settings.consumer_group + "-replay")
    second = AnalystWorker(replay_settings, tmp_path / "worker-2.log")
    second.start()
    try:
        second.wait_until_drained(timeout=600)
        second.wait_for_web()
        assert "skipped" in second.log_path.read_text(), "the replay reached the writer"
        after = aggregate_snapshot(settings)
        raw_after = hcp(
            settings,
            "sql",
            "--format",
            "tsv",
            "SELECT (SELECT count() FROM step_observations), (SELECT count() FROM case_steps)",
        ).stdout
    finally:
        stopped = second.stop()
    assert stopped == 0, second.log_tail()

    assert raw_after == raw_before
    assert len(before) > 100 and after == before
    # With no worker running, the commands open the directory themselves.
    check = hcp(settings, "report", "check")
    assert "聚合校验通过" in check.stdout
    assert report_rows(settings, "check") == []
    assert_incident_on_top(report_rows(settings))
    page = tmp_path / "report.html"
    hcp(settings, "report", "--html", str(page))
    html = page.read_text(encoding="utf-8")
    assert '"province":"340000","matter_code":"HCP-YB-JYBA","mode":"online","step":"DATA_SHARE"' in html
    assert "<script src" not in html and "http://" not in html.split('id="hcp-data"')[0]
