"""ClickHouse fails under a running worker: it backs off, commits nothing it has not written,
and catches up afterwards with exact counts.

The fault is real, at the sink boundary, with no change to the code: the `ratings` table's data
directory in the embedded engine is made immutable (chattr +i, which holds even for root), so
every insert into `ratings` fails inside ClickHouse while inserts into the other tables of the
same batch succeed — a partial, ambiguous write that the retry must complete without doubling.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
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
    assert_exactly_once,
    committed_offsets,
    query_stored,
    simulate,
    stored_through_worker,
    wait_for,
    worker_after_first_part,
)

BEFORE_OUTAGE = 3_000
OUTAGE_OBSERVED_SECONDS = 12.0


def _data_paths(settings: Settings, table: str) -> list[Path]:
    with open_clickhouse(settings.clickhouse, owner="reliability test") as client:
        (paths,) = client.query(
            "SELECT data_paths FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            parameters={"t": table},
        ).result_rows[0]
    found = [Path(path) for path in paths]
    assert found and all(path.is_dir() for path in found), found
    return found


class Immutable:
    """chattr +i on directories; always undone, or pytest could not remove them."""

    def __init__(self) -> None:
        self._paths: list[Path] = []

    def set(self, paths: list[Path]) -> None:
        for path in paths:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
            self._paths.append(path)

    def clear(self) -> None:
        while self._paths:
            subprocess.run(["chattr", "-i", str(self._paths.pop())], check=True, capture_output=True)


@pytest.fixture
def immutable() -> Iterator[Immutable]:
    guard = Immutable()
    try:
        yield guard
    finally:
        guard.clear()


@pytest.mark.slow
def test_worker_waits_out_a_failing_clickhouse_and_catches_up_exactly(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path, immutable: Immutable
) -> None:
    settings = pipeline_settings
    lines = simulate(tmp_path, seed=3, count=20_000)
    expected = Expected.of(lines)
    ensure_topics(settings)
    ratings_dirs = _data_paths(settings, "ratings")

    worker = worker_after_first_part(settings, worker_factory, lines[:BEFORE_OUTAGE], tmp_path / "worker.log")

    # ClickHouse cannot write the ratings table any more; the rest of the traffic arrives.
    immutable.set(ratings_dirs)
    with Publisher(settings) as publisher:
        assert publisher.publish_lines(lines[BEFORE_OUTAGE:]).refused == []
    wait_for(lambda: "ClickHouse write failed" in worker.log_tail(400), timeout=120, what="a failed write")
    # Batches acknowledged before the failure are committed within a second; then the position must freeze.
    time.sleep(3)  # not an assertion: lets the commit of batches stored before the failure go out
    failing_since = time.monotonic()
    committed_during = []
    while time.monotonic() - failing_since < OUTAGE_OBSERVED_SECONDS:
        assert worker.running(), worker.log_tail()
        committed_during.append(committed_offsets(settings))
        assert consumer_lag(settings) > 0
        time.sleep(1)
    # Nothing acknowledged while the batch could not be stored: the committed position is frozen.
    assert len(set(committed_during)) == 1, committed_during
    frozen = committed_during[0]
    stored_during = stored_through_worker(settings)
    failures = worker.log_tail(100_000).count("ClickHouse write failed")
    first_failure = next(line for line in worker.log_tail(100_000).splitlines() if "ClickHouse write failed" in line)

    immutable.clear()
    worker.wait_until_drained(timeout=600)
    assert worker.stop() == 0

    stored = query_stored(settings, expected)
    print(
        "\nsink outage: "
        + json.dumps(
            {
                "committed_before_outage": BEFORE_OUTAGE,
                "committed_during_outage": frozen,
                "messages_stored_during_outage": stored_during,
                "published": len(lines),
                "failed_writes_logged": failures,
                "after": stored.counts,
            }
        )
        + f"\nfirst failure: {first_failure[:300]}"
    )
    assert frozen < len(lines)
    assert_exactly_once(stored, expected)
