"""Writes a batch's rows to ClickHouse so that a replayed message is never stored twice.

Every row carries its Kafka (topic, partition, offset) and the token of the insert that
wrote it. Rows of messages a table already holds are dropped; the inserts that stored them
are sent once more under their own tokens, which ClickHouse ignores in the table and
delivers only to a materialized view that a crash kept them from.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from clickhouse_connect.driver.client import Client

from haochaping.rows import TABLE_COLUMNS, partition_month_reader
from sinks.clickhouse import WRITE_SETTINGS

log = logging.getLogger(__name__)

Row = Sequence[object]
T = TypeVar("T")
PartitionKey = tuple[str, int]
MessageKey = tuple[str, int, int]
TOKEN_COLUMN = "insert_token"
# An insert is re-sent only while its token is surely still in the table's deduplication
# window (10,000 inserts, sinks/migrations); re-sending an older one could store it twice.
RESEND_HORIZON_SECONDS = 15 * 60


class ClickHouseWriter:
    def __init__(self, client: Client) -> None:
        self._client = client
        # (table, topic, partition) -> highest src_offset known to be stored
        self._stored_up_to: dict[tuple[str, str, int], int] = {}
        self._loaded: set[tuple[str, str, int]] = set()
        self._resent: set[str] = set()
        self._tables_with_views: frozenset[str] | None = None

    def forget_positions(self) -> None:
        """After a rebalance or a failed insert, read the positions from ClickHouse again."""
        self._stored_up_to.clear()
        self._loaded.clear()

    def write_keyed(self, insert: Callable[[Client, T], None], payload: T) -> None:
        """Run an insert into a table that de-duplicates by its own key (alerts), on this writer's client."""
        insert(self._client, payload)

    def write(self, rows_by_table: Mapping[str, Sequence[Row]]) -> dict[str, int]:
        """Insert what is new; returns rows inserted per table. Raises if ClickHouse fails."""
        inserted: dict[str, int] = {}
        for table, rows in rows_by_table.items():
            if not rows:
                continue
            fresh = self._new_rows(table, rows)
            for part in _by_month(table, fresh):
                self._insert(table, part, _token(table, part))
                for row in part:
                    topic, partition, offset = _source(row)
                    key = (table, topic, partition)
                    if offset > self._stored_up_to.get(key, -1):
                        self._stored_up_to[key] = offset
            skipped = len(rows) - len(fresh)
            if skipped:
                log.info("%s: skipped %d rows already stored (replayed messages)", table, skipped)
            inserted[table] = len(fresh)
        return inserted

    def _insert(self, table: str, rows: Sequence[Row], token: str) -> None:
        try:
            self._client.insert(
                table,
                [[*row, token] for row in rows],
                column_names=[*TABLE_COLUMNS[table], TOKEN_COLUMN],
                settings={**WRITE_SETTINGS, "insert_deduplication_token": token},
            )
        except Exception:
            # We cannot tell whether the insert landed: ask ClickHouse next time.
            self.forget_positions()
            raise

    def _new_rows(self, table: str, rows: Sequence[Row]) -> list[Row]:
        self._load_positions(table, {_source(row)[:2] for row in rows})
        stored = self._stored_up_to

        def beyond_stored(row: Row) -> bool:
            topic, partition, offset = _source(row)
            return offset > stored.get((table, topic, partition), -1)

        replayed = [row for row in rows if not beyond_stored(row)]
        if not replayed:
            return list(rows)
        # Below the highest stored offset, ask for each message: an insert that failed half-way
        # (one month of a batch stored, the next not) leaves holes that must still be filled.
        present = self._stored_messages(table, replayed)
        return [row for row in rows if beyond_stored(row) or _source(row) not in present]

    def _stored_messages(self, table: str, rows: Sequence[Row]) -> set[MessageKey]:
        """Which of these rows' messages `table` holds; re-sends the inserts that stored them."""
        wanted = sorted({_source(row) for row in rows})
        result = self._client.query(
            f"SELECT DISTINCT src_topic, src_partition, src_offset, {TOKEN_COLUMN} FROM {table} "
            "WHERE (src_topic, src_partition, src_offset) IN "
            "(SELECT arrayJoin({wanted:Array(Tuple(String, UInt16, UInt64))}))",
            parameters={"wanted": wanted},
        )
        present = {(str(topic), int(partition), int(offset)) for topic, partition, offset, _ in result.result_rows}
        self._resend(table, {str(row[3]) for row in result.result_rows})
        return present

    def _resend(self, table: str, tokens: set[str]) -> None:
        """Send earlier inserts again so that every view of `table` receives each of them once.

        ClickHouse writes an insert to its table, then to each materialized view: a crash in
        between leaves the table complete and a view short. The table drops the repeated
        block by its token; each view takes it only if it never got it.
        """
        tokens -= self._resent | {""}  # "": rows stored before insert tokens were kept
        if not tokens or table not in self._views_fed():
            return
        columns = TABLE_COLUMNS[table]
        result = self._client.query(
            f"SELECT {', '.join(columns)}, {TOKEN_COLUMN}, dateDiff('second', ingested_at, now64(3)) "
            f"FROM {table} WHERE {TOKEN_COLUMN} IN {{tokens:Array(String)}}",
            parameters={"tokens": sorted(tokens)},
        )
        inserts: dict[str, list[Row]] = {}
        ages: dict[str, int] = {}
        for *values, token, age in result.result_rows:
            inserts.setdefault(token, []).append(values)
            ages[token] = max(ages.get(token, 0), int(age))
        for token, rows in sorted(inserts.items()):
            if ages[token] > RESEND_HORIZON_SECONDS:
                log.warning(
                    "%s: insert %s is %d s old, too old to re-send safely; `hcp report check` compares "
                    "the aggregates with the table",
                    table,
                    token,
                    ages[token],
                )
                continue
            self._insert(table, rows, token)
        self._resent |= tokens
        log.info(
            "%s: re-sent %d earlier inserts (%d rows) so that views a crash kept them from receive them once",
            table,
            len(inserts),
            sum(len(rows) for rows in inserts.values()),
        )

    def _views_fed(self) -> frozenset[str]:
        """The tables that materialized views read from."""
        if self._tables_with_views is None:
            result = self._client.query(
                "SELECT name FROM system.tables WHERE database = currentDatabase() AND notEmpty(dependencies_table)"
            )
            self._tables_with_views = frozenset(str(row[0]) for row in result.result_rows)
        return self._tables_with_views

    def _load_positions(self, table: str, partitions: Iterable[PartitionKey]) -> None:
        missing = [
            (topic, partition) for topic, partition in partitions if (table, topic, partition) not in self._loaded
        ]
        if not missing:
            return
        topics = sorted({topic for topic, _ in missing})
        result = self._client.query(
            f"SELECT src_topic, src_partition, max(src_offset) FROM {table} "  # table comes from TABLE_COLUMNS
            "WHERE src_topic IN {topics:Array(String)} GROUP BY src_topic, src_partition",
            parameters={"topics": topics},
        )
        for topic, partition, offset in result.result_rows:
            self._stored_up_to[(table, topic, int(partition))] = int(offset)
        for topic, partition in missing:
            self._loaded.add((table, topic, partition))


def _source(row: Row) -> MessageKey:
    """The (topic, partition, offset) of the message a row came from: its last three columns."""
    return str(row[-3]), int(row[-2]), int(row[-1])  # type: ignore[call-overload]


def _by_month(table: str, rows: Sequence[Row]) -> list[list[Row]]:
    """Rows grouped by the table's monthly partition, in their order: one part per insert."""
    month_of = partition_month_reader(table)
    parts: dict[int, list[Row]] = {}
    for row in rows:
        parts.setdefault(month_of(row), []).append(row)
    return list(parts.values())


def _token(table: str, rows: Sequence[Row]) -> str:
    """The same rows from the same messages always give the same token."""
    ranges: dict[PartitionKey, list[int]] = {}
    for row in rows:
        topic, partition, offset = _source(row)
        span = ranges.setdefault((topic, partition), [offset, offset])
        span[0] = min(span[0], offset)
        span[1] = max(span[1], offset)
    text = ";".join(f"{t}/{p}:{a}-{b}" for (t, p), (a, b) in sorted(ranges.items()))
    return f"{table}:{len(rows)}:" + hashlib.sha256(text.encode()).hexdigest()[:24]
