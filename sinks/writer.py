"""Writes a batch's rows to ClickHouse so that a replayed message is never stored twice.

Every row carries its Kafka (topic, partition, offset) and the token of the insert that
wrote it. Per table, partition and month the writer drops rows at or below the highest
offset stored; the recent inserts that stored them are sent once more under their own
tokens, which ClickHouse ignores in the table and delivers only to a materialized view a
crash kept them from.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import SupportsIndex, SupportsInt, TypeVar

from clickhouse_connect.driver.client import Client

from haochaping.rows import PARTITION_COLUMNS, TABLE_COLUMNS, partition_month_reader
from sinks.clickhouse import WRITE_SETTINGS

log = logging.getLogger(__name__)

Row = Sequence[object]
T = TypeVar("T")
PartitionKey = tuple[str, int]
MessageKey = tuple[str, int, int]
TOKEN_COLUMN = "insert_token"
# An insert is re-sent only while its tokens are surely still in the deduplication windows of
# its table and views (100,000 inserts, sinks/migrations); re-sending an older one could
# count it twice. Uncommitted inserts are seconds old.
RESEND_HORIZON_SECONDS = 10 * 60


class ClickHouseWriter:
    def __init__(self, client: Client) -> None:
        self._client = client
        # (table, topic, partition, month) -> highest src_offset stored. Per month, because each
        # insert holds one month: a batch whose December insert landed and November one did not
        # has December's offsets stored and none of its November offsets.
        self._stored_up_to: dict[tuple[str, str, int, int], int] = {}
        self._loaded: set[tuple[str, str, int]] = set()
        self._resent: set[str] = set()
        self._tables_with_views: frozenset[str] | None = None
        # The ingest and detector agents write from their own threads; one client, one insert at a time.
        self._busy = threading.Lock()

    def forget_positions(self) -> None:
        """After a rebalance or a failed insert, read the positions from ClickHouse again."""
        self._stored_up_to.clear()
        self._loaded.clear()

    def write_keyed(self, insert: Callable[[Client, T], None], payload: T) -> None:
        """Run an insert into a table that de-duplicates by its own key (alerts), on this writer's client."""
        with self._busy:
            insert(self._client, payload)

    def write(self, rows_by_table: Mapping[str, Sequence[Row]]) -> dict[str, int]:
        """Insert what is new; returns rows inserted per table. Raises if ClickHouse fails."""
        with self._busy:
            return self._write(rows_by_table)

    def _write(self, rows_by_table: Mapping[str, Sequence[Row]]) -> dict[str, int]:
        inserted: dict[str, int] = {}
        for table, rows in rows_by_table.items():
            if not rows:
                continue
            months = _by_month(table, rows)
            self._load_positions(table, {_source(row)[:2] for row in rows})
            replayed: list[Row] = []
            inserted[table] = 0
            for month, part in months.items():
                fresh: list[Row] = []
                for row in part:
                    (fresh if self._is_new(table, month, row) else replayed).append(row)
                if fresh:
                    self._insert(table, fresh, _token(table, fresh))
                    self._mark_stored(table, month, fresh)
                inserted[table] += len(fresh)
            if replayed:
                log.info("%s: skipped %d rows already stored (replayed messages)", table, len(replayed))
                self._complete_views(table, replayed)
        return inserted

    def _is_new(self, table: str, month: int, row: Row) -> bool:
        topic, partition, offset = _source(row)
        return offset > self._stored_up_to.get((table, topic, partition, month), -1)

    def _mark_stored(self, table: str, month: int, rows: Sequence[Row]) -> None:
        for row in rows:
            topic, partition, offset = _source(row)
            key = (table, topic, partition, month)
            if offset > self._stored_up_to.get(key, -1):
                self._stored_up_to[key] = offset

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

    def _complete_views(self, table: str, replayed: Sequence[Row]) -> None:
        """Send the recent inserts that stored these messages again, so every view gets each once.

        ClickHouse writes an insert to its table, then to each materialized view: a crash in
        between leaves the table complete and a view short, and the messages are replayed
        because their offsets were never committed. The table drops the repeated block by
        its token; each view takes it only if it never got it.
        """
        if table not in self._views_fed():
            return
        found = self._client.query(
            f"SELECT DISTINCT {TOKEN_COLUMN} FROM {table} "
            "WHERE (src_topic, src_partition, src_offset) IN "
            "(SELECT arrayJoin({replayed:Array(Tuple(String, UInt16, UInt64))})) "
            f"AND {TOKEN_COLUMN} != '' AND ingested_at >= now64(3) - toIntervalSecond({{horizon:UInt32}})",
            parameters={"replayed": sorted({_source(row) for row in replayed}), "horizon": RESEND_HORIZON_SECONDS},
        )
        tokens = sorted({str(row[0]) for row in found.result_rows} - self._resent)
        if not tokens:
            return
        columns = TABLE_COLUMNS[table]
        stored = self._client.query(
            f"SELECT {', '.join(columns)}, {TOKEN_COLUMN} FROM {table} "
            f"WHERE {TOKEN_COLUMN} IN {{tokens:Array(String)}}",
            parameters={"tokens": tokens},
        )
        inserts: dict[str, list[Row]] = {}
        for *values, token in stored.result_rows:
            inserts.setdefault(str(token), []).append(values)
        for token, rows in sorted(inserts.items()):
            self._insert(table, rows, token)
        self._resent.update(tokens)
        log.info(
            "%s: re-sent %d earlier inserts (%d rows) so that views a crash kept them from get them once",
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
        column = PARTITION_COLUMNS[table]
        month = f"toYYYYMM({column})" if column else "0"
        result = self._client.query(
            f"SELECT src_topic, src_partition, {month}, max(src_offset) FROM {table} "  # names from haochaping.rows
            "WHERE src_topic IN {topics:Array(String)} GROUP BY 1, 2, 3",
            parameters={"topics": topics},
        )
        for topic, partition, in_month, offset in result.result_rows:
            self._stored_up_to[(table, topic, int(partition), int(in_month))] = int(offset)
        for topic, partition in missing:
            self._loaded.add((table, topic, partition))


def _source(row: Row) -> MessageKey:
    """The (topic, partition, offset) of the message a row came from: its last three columns."""
    return str(row[-3]), _integer(row[-2]), _integer(row[-1])


def _integer(value: object) -> int:
    """A partition or offset column as int() reads it (an int in built rows and in rows read back from ClickHouse)."""
    if isinstance(value, int):  # the only case in practice, so checked first
        return int(value)
    if isinstance(value, str | bytes | bytearray | SupportsInt | SupportsIndex):
        return int(value)
    raise TypeError(f"a source partition or offset must be an integer, not {value!r}")


def _by_month(table: str, rows: Sequence[Row]) -> dict[int, list[Row]]:
    """Rows grouped by the table's monthly partition, in their order: one part per insert."""
    month_of = partition_month_reader(table)
    months: dict[int, list[Row]] = {}
    for row in rows:
        months.setdefault(month_of(row), []).append(row)
    return months


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
