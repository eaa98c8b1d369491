"""The worker is SIGKILLed in the middle of a stream of ~20,000 events and restarted.

After the restart ClickHouse holds every rating and case event exactly once, every
negative rating is attributed exactly once, the aggregates equal a recomputation from
the raw rows, and the case timelines survived: a rating published after the restart
for a case whose events were all consumed (and committed) before the kill is traced
with its timeline.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

from haochaping.settings import Settings
from producers.lag import consumer_lag
from producers.publisher import Publisher
from producers.topics import ensure_topics
from sinks.clickhouse import open_clickhouse
from tests.integration.conftest import WorkerProcess
from tests.integration.test_reliability_support import (
    Expected,
    PacedPublisher,
    assert_exactly_once,
    committed_offsets,
    end_offsets,
    query_stored,
    simulate,
    stored_messages,
    stored_through_worker,
    wait_for,
    worker_after_first_part,
)

BEFORE_KILL = 8_000  # lines published and fully committed before the stream in which the worker dies
PROGRESS_BEFORE_KILL = 1_500  # the worker has committed this many lines of the stream when it is killed


def _held_back(lines: list[bytes]) -> list[int]:
    """Negative ratings whose case's events all come in the first BEFORE_KILL lines."""
    last_event: dict[str, int] = {}
    events = [json.loads(line) for line in lines]
    for index, event in enumerate(events):
        if event["schema"] == "hcp.case/1":
            last_event[event["case_id"]] = index
    return [
        index
        for index, event in enumerate(events)
        if event["schema"] == "hcp.rating/1"
        and event["level"] <= 2
        and event["case_id"] is not None
        and last_event.get(event["case_id"], BEFORE_KILL) < BEFORE_KILL
    ]


@pytest.mark.slow
def test_worker_killed_mid_stream_restarts_without_loss_or_duplicates(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    settings = pipeline_settings
    lines = simulate(tmp_path, seed=3, count=20_000)
    held = _held_back(lines)
    assert len(held) >= 3, "the sample should have negative ratings of cases finished early"
    held_lines = [lines[index] for index in held]
    stream = [line for index, line in enumerate(lines) if index not in set(held)]
    first, rest = stream[:BEFORE_KILL], stream[BEFORE_KILL:]
    ensure_topics(settings)

    # 1. A first part, fully stored and committed: the held-back ratings' cases are in here.
    worker = worker_after_first_part(settings, worker_factory, first, tmp_path / "worker.log")

    # 2. The rest arrives as a live stream; the worker dies in the middle of it.
    publishing = PacedPublisher(settings, rest, chunk=250, pause=0.1)
    publishing.start()

    def written_but_not_committed() -> bool:
        # Kill where it hurts most: rows of the stream are in ClickHouse, their offsets not yet committed.
        stored = stored_through_worker(settings)
        committed = committed_offsets(settings)
        return stored is not None and committed >= len(first) + PROGRESS_BEFORE_KILL and stored > committed

    wait_for(written_but_not_committed, timeout=120, what="the worker to be part-way through the stream", interval=0.1)
    assert worker.stop(signal.SIGKILL) == -signal.SIGKILL
    committed_at_kill = committed_offsets(settings)
    published_at_kill = end_offsets(settings)
    stored_at_kill = stored_messages(settings)
    # At least once: no offset is ever committed before its rows are stored.
    assert committed_at_kill <= stored_at_kill
    assert committed_at_kill < published_at_kill or publishing.is_alive(), "the kill was not mid-stream"
    report = publishing.finish()
    assert report.sent == len(rest)
    assert consumer_lag(settings) > 0

    # 3. Restart; then ratings of cases the killed worker had consumed.
    restarted = worker_factory(settings, tmp_path / "worker.log")
    restarted.start()
    with Publisher(settings) as publisher:
        assert publisher.publish_lines(held_lines).refused == []
    restarted.wait_until_drained(timeout=600)
    assert restarted.stop() == 0

    skipped = sum(int(n) for n in re.findall(r"(?:ratings|case_events): skipped (\d+) rows", worker.log_tail(100_000)))
    expected = Expected.of(lines)
    stored = query_stored(settings, expected)
    print(
        f"\ncrash: killed with {committed_at_kill} of {published_at_kill} offsets committed and {stored_at_kill} "
        f"messages stored ({stored_at_kill - committed_at_kill} to be replayed, {skipped} rows skipped as replays); "
        f"after restart: {stored.counts}"
    )
    assert_exactly_once(stored, expected)

    # The timelines came back from the changelog: the held-back ratings were joined with them.
    held_ids = [json.loads(line)["rating_id"] for line in held_lines]
    with open_clickhouse(settings.clickhouse, owner="reliability test") as client:
        modes = dict(
            client.query(
                "SELECT rating_id, any(mode) FROM attributions WHERE rating_id IN {ids:Array(String)} GROUP BY rating_id",
                parameters={"ids": held_ids},
            ).result_rows
        )
        observed = {
            row[0]
            for row in client.query(
                "SELECT DISTINCT rating_id FROM step_observations WHERE rating_id IN {ids:Array(String)}",
                parameters={"ids": held_ids},
            ).result_rows
        }
    assert sorted(modes) == sorted(held_ids)
    assert {rating_id: mode for rating_id, mode in modes.items() if mode == ""} == {}
    assert observed == set(held_ids)
