"""A backlog published before the worker starts is traced as if it had arrived live.

Ratings and case events sit on separate topics; without event-time alignment a worker
reading a backlog would trace ratings before their cases' events had been read.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from haochaping.catalog import default_catalog
from haochaping.ingest import Ingestor, Message
from haochaping.settings import Settings
from producers.publisher import Publisher
from producers.topics import ensure_topics
from sinks.clickhouse import open_clickhouse
from tests.integration.conftest import ROOT, WorkerProcess

EVENTS = 20_000


def _traced_live(lines: list[bytes], settings: Settings) -> tuple[dict[str, str], set[str]]:
    """The same Ingestor fed one message at a time in publication order, as live traffic arrives:
    the primary step of each negative rating, and the ratings that were joined with a timeline."""
    ingestor = Ingestor({"ratings": "rating", "cases": "case"}, settings.pseudonym_key, default_catalog())
    timelines: dict[bytes, bytes] = {}
    primary: dict[str, str] = {}
    observed: set[str] = set()
    for offset, line in enumerate(lines):
        topic = "ratings" if b'"hcp.rating/1"' in line else "cases"
        batch = ingestor.process([Message(topic, 0, offset, None, line)], timelines)
        primary.update({t.wire["rating_id"]: t.wire["step"] for t in batch.attributions if t.wire["negative"]})
        observed.update(observation.rating_id for observation in batch.observations)
    return primary, observed


def test_backlog_is_traced_like_live_traffic(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    settings = pipeline_settings
    sample = tmp_path / "sample.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "simulate",
            "--seed",
            "7",
            "--count",
            str(EVENTS),
            "--cases-per-hour",
            "10",
            "--out",
            str(sample),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    lines = sample.read_bytes().splitlines()
    ensure_topics(settings)
    with Publisher(settings) as publisher:
        report = publisher.publish_lines(lines)
    assert report.refused == []

    worker = worker_factory(settings, tmp_path / "worker.log")
    worker.start()
    worker.wait_until_drained(timeout=600)
    assert worker.stop() == 0

    expected_primary, expected_observed = _traced_live(lines, settings)
    with open_clickhouse(settings.clickhouse, owner="test") as client:
        primary = dict(client.query("SELECT rating_id, step FROM attributions WHERE is_primary = 1").result_rows)
        observed = {row[0] for row in client.query("SELECT DISTINCT rating_id FROM step_observations").result_rows}
    assert len(expected_observed) > 200  # the sample really has rated, finished cases
    assert observed == expected_observed
    assert primary == expected_primary
