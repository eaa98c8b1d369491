"""The ClickHouse writer against the real embedded engine: replays after a crash.

A crash can land an insert in its table but not in every materialized view fed by it;
the worker that replays those messages must complete the views, once, and store
nothing twice. Views are detached for one insert to produce exactly that state.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from haochaping.catalog import default_catalog
from haochaping.ingest import Ingestor, Message
from haochaping.simulation.config import SimulationConfig
from haochaping.simulation.engine import Simulator
from sinks.analytics import AGGREGATE_CHECK
from sinks.clickhouse import open_clickhouse
from sinks.writer import ClickHouseWriter

Rows = dict[str, list[Sequence[object]]]
TOPICS = {"t.cases": "case", "t.ratings": "rating"}


def _batches(count: int = 6_000, size: int = 500) -> list[Rows]:
    """Rows of simulated 跨省通办 traffic, batch by batch, as the ingest agent produces them."""
    simulator = Simulator(default_catalog(), SimulationConfig(seed=7, cases_per_hour=10))
    offsets = {topic: itertools.count() for topic in TOPICS}
    messages = []
    for event in itertools.islice(simulator.events(), count):
        topic = "t.ratings" if event.kind == "rating" else "t.cases"
        payload = json.dumps(event.payload, ensure_ascii=False).encode()
        messages.append(Message(topic, 0, next(offsets[topic]), None, payload))
    ingestor = Ingestor(TOPICS, b"test-key", default_catalog())
    timelines: dict[bytes, bytes] = {}
    return [
        {table: list(rows) for table, rows in ingestor.process(messages[i : i + size], timelines).rows.items()}
        for i in range(0, len(messages), size)
    ]


def _merged(batches: Sequence[Rows]) -> Rows:
    merged: Rows = {}
    for batch in batches:
        for table, rows in batch.items():
            merged.setdefault(table, []).extend(rows)
    return merged


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with open_clickhouse(f"chdb://{tmp_path / 'clickhouse'}", owner="writer test") as opened:
        yield opened


def _count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def _duplicates(client: Client, table: str) -> int:
    return _count(client, f"SELECT count() FROM {table}") - _count(
        client, f"SELECT count() FROM (SELECT DISTINCT * EXCEPT (ingested_at, insert_token) FROM {table})"
    )


VIEWS_MISSED = ("step_stats_hourly_case_steps_mv", "step_stats_daily_observations_mv")


def test_replay_completes_views_a_crash_left_short_and_stores_nothing_twice(client: Client) -> None:
    batches = _batches()
    expected = _merged(batches)
    assert len(expected["case_steps"]) > 100 and len(expected["step_observations"]) > 100

    first = ClickHouseWriter(client)
    for batch in batches[:5]:
        first.write(batch)
    # The "crash": batch 5 reaches its tables but two of the four views never see it.
    for view in VIEWS_MISSED:
        client.command(f"DETACH TABLE {view}")
    first.write(batches[5])
    for view in VIEWS_MISSED:
        client.command(f"ATTACH TABLE {view}")
    assert client.query(AGGREGATE_CHECK).result_rows != [], "the views should be short before the replay"

    # The restarted worker reads from an earlier committed offset, with other batch boundaries.
    restarted = ClickHouseWriter(client)
    restarted.write(_merged(batches[4:7]))
    for batch in batches[7:]:
        restarted.write(batch)

    assert client.query(AGGREGATE_CHECK).result_rows == []
    for table, rows in expected.items():
        assert _count(client, f"SELECT count() FROM {table}") == len(rows), table
        assert _duplicates(client, table) == 0, table
    for period in ("hourly", "daily"):
        stats = f"step_stats_{period}"
        assert _count(client, f"SELECT sum(steps_completed) FROM {stats}") == len(expected["case_steps"])
        assert _count(client, f"SELECT sum(ratings) FROM {stats}") == len(expected["step_observations"])

    # A further replay of everything changes nothing: each insert reached each view once.
    ClickHouseWriter(client).write(expected)
    assert client.query(AGGREGATE_CHECK).result_rows == []
    assert _count(client, "SELECT sum(steps_completed) FROM step_stats_daily") == len(expected["case_steps"])


def _straddling_two_months() -> list[Sequence[object]]:
    """Simulated ratings, every second one moved to 1 December (UTC)."""
    ratings = _merged(_batches(count=3_000))["ratings"]
    rated_at = 10  # column index of rated_at in haochaping.rows.RATING_COLUMNS
    december = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    return [(*row[:rated_at], december, *row[rated_at + 1 :]) if i % 2 else row for i, row in enumerate(ratings)]


def test_a_batch_spanning_two_months_is_one_insert_per_month_and_a_lost_month_is_written_again(
    client: Client,
) -> None:
    rows = _straddling_two_months()
    in_december = len(rows) // 2
    ClickHouseWriter(client).write({"ratings": rows})
    per_token = client.query(
        "SELECT uniqExact(toYYYYMM(rated_at)), count() FROM ratings GROUP BY insert_token"
    ).result_rows
    assert sorted(per_token) == sorted([(1, len(rows) - in_december), (1, in_december)])

    # As if the worker died after the November insert and before the December one.
    client.command("ALTER TABLE ratings DROP PARTITION 202612")
    inserted = ClickHouseWriter(client).write({"ratings": rows})

    assert inserted == {"ratings": in_december}
    assert _count(client, "SELECT count() FROM ratings") == len(rows)
    assert _duplicates(client, "ratings") == 0


def test_a_replay_adds_no_rows_to_messages_already_stored(client: Client) -> None:
    """A replayed rating may be traced against a fuller timeline: its first rows stand."""
    observations = _merged(_batches())["step_observations"]
    ratings = sorted({row[0] for row in observations})
    first_pass = [row for row in observations if row[0] not in set(ratings[::4])]
    ClickHouseWriter(client).write({"step_observations": first_pass})
    # The last message stays beyond what was stored, so it is new on the replay.
    last = max(int(row[-1]) for row in first_pass)
    later = [row for row in observations if int(row[-1]) > last]
    assert len(first_pass) + len(later) < len(observations), "some rows should be new on the replay only"

    inserted = ClickHouseWriter(client).write({"step_observations": observations})

    assert inserted == {"step_observations": len(later)}
    assert _count(client, "SELECT count() FROM step_observations") == len(first_pass) + len(later)
