"""Two workers in one consumer group share the partitions; one is SIGKILLed and the other takes over.

Both workers write to ONE ClickHouse, as in production (HCP_CLICKHOUSE_URL=http://…). The
exactly-once guarantee across a takeover rests on that: the survivor re-reads, from ClickHouse,
the highest offset stored per (table, partition), including what the dead worker wrote but never
committed. With one chDB directory per worker that position would not be shared and the survivor
would re-write those rows into its own directory, so the test would either fail or have to hide
duplicates. No ClickHouse server can be installed here, so the shared ClickHouse is the real
engine behind a minimal HTTP front (tests/integration/clickhouse_http.py).

Both workers consume a live stream of 30,000 events; the first is killed while rows it wrote are
not yet committed. A second test lets the second worker join while the first consumes (partitions
move between two living workers) before the kill.
"""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from haochaping.settings import Settings
from producers.topics import ensure_topics
from tests.integration.conftest import WorkerProcess, free_port
from tests.integration.test_reliability_support import (
    Expected,
    PacedPublisher,
    assert_exactly_once,
    end_offsets,
    query_stored,
    simulate,
    wait_for,
)

COUNT = 30_000


def _assigned(settings: Settings) -> dict[str, set[int]]:
    """Source partitions the worker listening on settings.web_port consumes now ({} if it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/hcp/health", timeout=5) as response:
            assigned = json.loads(response.read()).get("assigned", {})
    except (OSError, ValueError):
        return {}
    sources = (settings.topics["ratings"], settings.topics["cases"])
    return {topic: set(partitions) for topic, partitions in assigned.items() if topic in sources}


def _committed_by_partition(settings: Settings) -> dict[tuple[str, int], int]:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="hcp-test-committed")
    try:
        committed = admin.list_group_offsets(settings.positions_group).get(settings.positions_group, {})
    finally:
        admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items() if meta.offset >= 0}


def _stored_by_partition(settings: Settings) -> dict[tuple[str, int], int]:
    """Next offset after the highest stored, per source partition (ratings and case events)."""
    from sinks.clickhouse import connect

    client = connect(settings.clickhouse, owner="two-workers test")
    try:
        rows = client.query(
            "SELECT src_topic, src_partition, max(src_offset) + 1 FROM "
            "(SELECT src_topic, src_partition, src_offset FROM ratings "
            "UNION ALL SELECT src_topic, src_partition, src_offset FROM case_events) "
            "GROUP BY src_topic, src_partition"
        ).result_rows
    finally:
        client.close()
    return {(str(topic), int(partition)): int(offset) for topic, partition, offset in rows}


def _split(first: Settings, second: Settings, sources: tuple[str, str], every_partition: set[int]) -> bool:
    a, b = _assigned(first), _assigned(second)
    if set(a) != set(sources) or set(b) != set(sources):
        return False
    # Co-partitioned: each worker owns the same partition numbers of both topics, disjoint, covering all.
    pa, pb = a[sources[0]], b[sources[0]]
    return bool(
        a[sources[1]] == pa and b[sources[1]] == pb and pa and pb and pa | pb == every_partition and not pa & pb
    )


def _two_workers_one_killed(
    settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path, *, join_mid_stream: bool
) -> None:
    assert settings.partitions >= 4
    first = settings.with_changes(data_dir=tmp_path / "worker-a", web_port=free_port())
    second = settings.with_changes(data_dir=tmp_path / "worker-b", web_port=free_port())
    for worker_settings in (first, second):
        worker_settings.data_dir.mkdir(parents=True)
    sources = (settings.topics["ratings"], settings.topics["cases"])
    every_partition = set(range(settings.partitions))
    lines = simulate(tmp_path, seed=5, count=COUNT)
    ensure_topics(settings)

    worker_a = worker_factory(first, tmp_path / "worker-a.log")
    worker_b = worker_factory(second, tmp_path / "worker-b.log")
    worker_a.start()
    if not join_mid_stream:
        worker_b.start()
        wait_for(
            lambda: _split(first, second, sources, every_partition), 180, "the two workers to split the partitions"
        )
    else:
        wait_for(
            lambda: _assigned(first) == {t: every_partition for t in sources} or not worker_a.running(),
            180,
            "worker A to own every partition",
        )
    assert worker_a.running(), worker_a.log_tail()
    publishing = PacedPublisher(settings, lines, chunk=200, pause=0.25)
    publishing.start()
    wait_for(
        lambda: sum(_stored_by_partition(settings).values()) >= 2_000, 120, "the workers to store part of the stream"
    )
    if join_mid_stream:
        # B joins while A consumes: partitions move between two living workers.
        worker_b.start()
        wait_for(
            lambda: _split(first, second, sources, every_partition), 180, "the two workers to split the partitions"
        )
    owned_by_a = _assigned(first)[sources[0]]
    owned_by_b = _assigned(second)[sources[0]]
    assert publishing.is_alive(), "the stream ended before both workers consumed it: publish more slowly"
    at_split = _stored_by_partition(settings)

    # Kill A where it hurts: B has stored rows of its own partitions since the split, and A has
    # rows in ClickHouse whose offsets are not committed yet.
    def both_consume_and_a_is_ahead_of_its_commits() -> bool:
        stored = _stored_by_partition(settings)
        committed = _committed_by_partition(settings)
        b_progress = any(stored.get((t, p), 0) > at_split.get((t, p), 0) for t in sources for p in owned_by_b)
        a_uncommitted = any(stored.get((t, p), 0) > committed.get((t, p), 0) for t in sources for p in owned_by_a)
        return b_progress and a_uncommitted

    def frozen_with_rows_ahead_of_its_commits() -> bool:
        # Freeze A (SIGSTOP) so that what it stored and what it committed cannot move while both
        # are read; go on (SIGCONT) and try again if the freeze caught it with everything committed.
        assert worker_a.pid is not None
        os.kill(worker_a.pid, signal.SIGSTOP)
        stored = _stored_by_partition(settings)
        committed = _committed_by_partition(settings)
        if any(stored.get((t, p), 0) > committed.get((t, p), 0) for t in sources for p in owned_by_a):
            return True
        os.kill(worker_a.pid, signal.SIGCONT)
        return False

    wait_for(both_consume_and_a_is_ahead_of_its_commits, 120, "both workers to consume, A ahead of its commits", 0.1)
    wait_for(frozen_with_rows_ahead_of_its_commits, 120, "A frozen with stored rows it has not committed", 0.3)
    stored_at_kill = _stored_by_partition(settings)
    committed_at_kill = _committed_by_partition(settings)
    assert worker_a.stop(signal.SIGKILL) == -signal.SIGKILL
    replay = {
        (t, p): stored_at_kill.get((t, p), 0) - committed_at_kill.get((t, p), 0)
        for t in sources
        for p in owned_by_a
        if stored_at_kill.get((t, p), 0) > committed_at_kill.get((t, p), 0)
    }
    assert replay, "A had nothing written but uncommitted at the kill"
    assert publishing.is_alive() or sum(committed_at_kill.values()) < end_offsets(settings), "not mid-stream"

    # B takes over A's partitions (after the broker drops A: Faust's session timeout) and drains.
    wait_for(lambda: _assigned(second) == {t: every_partition for t in sources}, 180, "B to take over A's partitions")
    report = publishing.finish(timeout=300)
    assert report.sent == len(lines)
    worker_b.wait_until_drained(timeout=600)
    assert worker_b.stop() == 0

    skipped = sum(
        int(n) for n in re.findall(r"(?:ratings|case_events): skipped (\d+) rows", worker_b.log_tail(1_000_000))
    )
    expected = Expected.of(lines)
    stored = query_stored(settings, expected)
    print(
        f"\ntwo workers: A owned {sorted(owned_by_a)}, B owned {sorted(owned_by_b)}; at the kill A had "
        f"{sum(replay.values())} stored but uncommitted messages on {sorted(replay)}; B skipped {skipped} rows "
        f"as replays; {stored.counts}"
    )
    assert skipped > 0, "the survivor re-read none of A's uncommitted rows: the takeover was not exercised"
    assert_exactly_once(stored, expected)


@pytest.mark.slow
def test_two_workers_share_partitions_and_the_survivor_takes_over_exactly_once(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], shared_clickhouse: str, tmp_path: Path
) -> None:
    settings = pipeline_settings.with_changes(clickhouse_url=shared_clickhouse)
    _two_workers_one_killed(settings, worker_factory, tmp_path, join_mid_stream=False)


@pytest.mark.slow
def test_a_worker_joining_mid_stream_then_one_killed_exactly_once(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], shared_clickhouse: str, tmp_path: Path
) -> None:
    settings = pipeline_settings.with_changes(clickhouse_url=shared_clickhouse)
    _two_workers_one_killed(settings, worker_factory, tmp_path, join_mid_stream=True)
