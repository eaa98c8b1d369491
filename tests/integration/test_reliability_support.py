"""Shared helpers of the reliability tests (test_reliability_*.py): simulated traffic, committed
offsets, and the exactly-once checks on ClickHouse. No tests here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from haochaping.settings import Settings
from producers.publisher import Publisher, PublishReport
from tests.integration.conftest import ROOT, WorkerProcess


def simulate(tmp_path: Path, seed: int = 3, count: int = 20_000) -> list[bytes]:
    """`hcp simulate --out FILE`: deterministic 跨省通办 traffic, in publication order."""
    out = tmp_path / f"sample-{seed}-{count}.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "simulate",
            "--seed",
            str(seed),
            "--count",
            str(count),
            "--cases-per-hour",
            "10",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out.read_bytes().splitlines()


@dataclass(frozen=True, slots=True)
class Expected:
    """What a list of published lines must become in ClickHouse."""

    rating_ids: frozenset[str]
    event_ids: frozenset[str]
    negative_ids: frozenset[str]

    @classmethod
    def of(cls, lines: Sequence[bytes]) -> Expected:
        ratings, events, negatives = set(), set(), set()
        for line in lines:
            event = json.loads(line)
            if event["schema"] == "hcp.rating/1":
                ratings.add(event["rating_id"])
                if event["level"] <= 2:
                    negatives.add(event["rating_id"])
            else:
                events.add(event["event_id"])
        assert len(ratings) + len(events) == len(lines), "the sample repeats an id"
        return cls(frozenset(ratings), frozenset(events), frozenset(negatives))


def end_offsets(settings: Settings) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="hcp-test-ends")
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in settings.source_topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return int(sum(consumer.end_offsets(partitions).values()))
    finally:
        consumer.close()


def committed_offsets(settings: Settings) -> int:
    """Sum of the worker's committed positions in the input topics (0 before any commit)."""
    deadline = time.monotonic() + 60
    while True:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="hcp-test-committed")
        try:
            committed = admin.list_group_offsets(settings.positions_group).get(settings.positions_group, {})
            break
        except KafkaError as error:  # e.g. the group coordinator of a just-started broker is not ready
            if not getattr(error, "retriable", False) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
        finally:
            admin.close()
    inputs = set(settings.source_topics)
    return int(sum(meta.offset for tp, meta in committed.items() if tp.topic in inputs and meta.offset >= 0))


def stored_through_worker(settings: Settings) -> int | None:
    """Ratings + case events in ClickHouse, asked through the running worker's /sql page (None if it does not answer)."""
    body = json.dumps({"sql": "SELECT (SELECT count() FROM ratings) + (SELECT count() FROM case_events)"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.web_port}/sql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(json.loads(response.read())["rows"][0][0])
    except (OSError, KeyError, ValueError):
        return None


def stored_messages(settings: Settings) -> int:
    """Ratings + case events in ClickHouse, opened directly (no worker may be running)."""
    from sinks.clickhouse import open_clickhouse

    with open_clickhouse(settings.clickhouse, owner="reliability test") as client:
        return int(
            client.query("SELECT (SELECT count() FROM ratings) + (SELECT count() FROM case_events)").result_rows[0][0]
        )


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class PacedPublisher(threading.Thread):
    """Publishes lines through the real Publisher in chunks, `pause` seconds apart, in a thread."""

    def __init__(self, settings: Settings, lines: Sequence[bytes], chunk: int = 250, pause: float = 0.1) -> None:
        super().__init__(name="paced-publisher", daemon=True)
        self._settings = settings
        self._lines = list(lines)
        self._chunk = chunk
        self._pause = pause
        self.report = PublishReport()
        self.error: BaseException | None = None
        self.published = 0

    def run(self) -> None:
        try:
            with Publisher(self._settings, client_id="hcp-test-paced") as publisher:
                for start in range(0, len(self._lines), self._chunk):
                    publisher.publish_lines(self._lines[start : start + self._chunk], self.report)
                    publisher.flush()
                    self.published = min(start + self._chunk, len(self._lines))
                    time.sleep(self._pause)
        except BaseException as error:  # surfaced by finish()
            self.error = error

    def finish(self, timeout: float = 240.0) -> PublishReport:
        self.join(timeout)
        assert not self.is_alive(), f"publisher still running after {timeout} s"
        if self.error is not None:
            raise AssertionError(f"publishing failed: {self.error!r}") from self.error
        assert self.report.refused == []
        return self.report


@dataclass(slots=True)
class Stored:
    """What ClickHouse holds, reduced to the numbers the exactly-once checks need."""

    counts: dict[str, int] = field(default_factory=dict)
    mismatched_aggregates: list[tuple[object, ...]] = field(default_factory=list)
    missing_ratings: set[str] = field(default_factory=set)
    missing_events: set[str] = field(default_factory=set)
    missing_attributions: set[str] = field(default_factory=set)


def query_stored(settings: Settings, expected: Expected) -> Stored:
    from sinks.analytics import AGGREGATE_CHECK
    from sinks.clickhouse import open_clickhouse

    stored = Stored()

    with open_clickhouse(settings.clickhouse, owner="reliability test") as client:

        def one(sql: str) -> int:
            return int(client.query(sql).result_rows[0][0])

        c = stored.counts
        c["ratings"] = one("SELECT count() FROM ratings")
        c["ratings_unique"] = one("SELECT uniqExact(rating_id) FROM ratings")
        c["case_events"] = one("SELECT count() FROM case_events")
        c["case_events_unique"] = one("SELECT uniqExact(event_id) FROM case_events")
        c["dead_letters"] = one("SELECT count() FROM dead_letters")
        c["attribution_ratings"] = one("SELECT uniqExact(rating_id) FROM attributions")
        c["attribution_rows"] = one("SELECT count() FROM attributions")
        c["attribution_duplicate_candidates"] = one(
            "SELECT count() FROM (SELECT rating_id, candidate_step, count() AS n FROM attributions "
            "GROUP BY rating_id, candidate_step HAVING n > 1)"
        )
        c["attribution_primaries"] = one("SELECT countIf(is_primary = 1) FROM attributions")
        for table in ("case_steps", "step_observations", "attributions"):
            c[f"{table}_rows"] = one(f"SELECT count() FROM {table}")
            # Two inserts of one message differ only in when and by which insert they were stored.
            distinct = f"SELECT DISTINCT * EXCEPT (ingested_at, insert_token) FROM {table}"
            c[f"{table}_distinct_rows"] = one(f"SELECT count() FROM ({distinct})")
        c["stats_ratings"] = one("SELECT sum(ratings) FROM step_stats_hourly")
        c["stats_steps_completed"] = one("SELECT sum(steps_completed) FROM step_stats_hourly")
        stored.mismatched_aggregates = [tuple(row) for row in client.query(AGGREGATE_CHECK).result_rows]
        ratings = {row[0] for row in client.query("SELECT DISTINCT rating_id FROM ratings").result_rows}
        events = {row[0] for row in client.query("SELECT DISTINCT event_id FROM case_events").result_rows}
        attributed = {row[0] for row in client.query("SELECT DISTINCT rating_id FROM attributions").result_rows}
    stored.missing_ratings = set(expected.rating_ids) - ratings
    stored.missing_events = set(expected.event_ids) - events
    stored.missing_attributions = set(expected.negative_ids) - attributed
    return stored


def assert_exactly_once(stored: Stored, expected: Expected) -> None:
    c = stored.counts
    assert stored.missing_ratings == set(), f"ratings lost: {sorted(stored.missing_ratings)[:10]}"
    assert stored.missing_events == set(), f"case events lost: {sorted(stored.missing_events)[:10]}"
    assert (c["ratings"], c["ratings_unique"]) == (len(expected.rating_ids),) * 2
    assert (c["case_events"], c["case_events_unique"]) == (len(expected.event_ids),) * 2
    assert c["dead_letters"] == 0
    # One attribution per negative rating, each candidate step once, one primary each.
    assert stored.missing_attributions == set()
    assert c["attribution_ratings"] == len(expected.negative_ids)
    assert c["attribution_duplicate_candidates"] == 0
    assert c["attribution_primaries"] == len(expected.negative_ids)
    for table in ("case_steps", "step_observations", "attributions"):
        assert c[f"{table}_rows"] == c[f"{table}_distinct_rows"], f"{table} holds duplicated rows"
    # Aggregates kept by the materialized views equal a recomputation from the raw rows.
    assert stored.mismatched_aggregates == []
    assert c["stats_ratings"] == c["step_observations_rows"]
    assert c["stats_steps_completed"] == c["case_steps_rows"]


def worker_after_first_part(
    settings: Settings, worker_factory: type[WorkerProcess], first: Sequence[bytes], log_path: Path
) -> WorkerProcess:
    """A running worker that has stored and committed `first`, published before it started."""
    with Publisher(settings) as publisher:
        assert publisher.publish_lines(first).refused == []
    worker = worker_factory(settings, log_path)
    worker.start()
    worker.wait_until_drained(timeout=600)
    assert committed_offsets(settings) == len(first)
    return worker
