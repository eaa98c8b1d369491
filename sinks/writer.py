"""Writes a batch's rows to ClickHouse so that a replayed message is never stored twice.

Every row carries its Kafka (topic, partition, offset). Per table and partition the
writer knows the highest offset already stored and drops anything at or below it;
the insert's deduplication token makes an ambiguous retry of the same rows a no-op.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from clickhouse_connect.driver.client import Client

from haochaping.rows import TABLE_COLUMNS
from sinks.clickhouse import WRITE_SETTINGS

log = logging.getLogger(__name__)

Row = Sequence[object]
T = TypeVar("T")
PartitionKey = tuple[str, int]


class ClickHouseWriter:
    def __init__(self, client: Client) -> None:
        self._client = client
        # (table, topic, partition) -> highest src_offset known to be stored
        self._stored_up_to: dict[tuple[str, str, int], int] = {}
        self._loaded: set[tuple[str, str, int]] = set()

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
            columns = TABLE_COLUMNS[table]
            fresh = self._new_rows(table, rows)
            if fresh:
                try:
                    self._client.insert(
                        table,
                        fresh,
                        column_names=list(columns),
                        settings={**WRITE_SETTINGS, "insert_deduplication_token": _token(table, fresh)},
                    )
                except Exception:
                    # We cannot tell whether the insert landed: ask ClickHouse next time.
                    self.forget_positions()
                    raise
                for row in fresh:
                    key = (table, str(row[-3]), int(row[-2]))  # type: ignore[call-overload]
                    offset = int(row[-1])  # type: ignore[call-overload]
                    if offset > self._stored_up_to.get(key, -1):
                        self._stored_up_to[key] = offset
            skipped = len(rows) - len(fresh)
            if skipped:
                log.info("%s: skipped %d rows already stored (replayed messages)", table, skipped)
            inserted[table] = len(fresh)
        return inserted

    def _new_rows(self, table: str, rows: Sequence[Row]) -> list[Row]:
        partitions = {(str(row[-3]), int(row[-2])) for row in rows}  # type: ignore[call-overload]
        self._load_positions(table, partitions)
        stored = self._stored_up_to
        return [
            row
            for row in rows
            if int(row[-1]) > stored.get((table, str(row[-3]), int(row[-2])), -1)  # type: ignore[call-overload]
        ]

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


def _token(table: str, rows: Sequence[Row]) -> str:
    """The same rows from the same messages always give the same token."""
    ranges: dict[PartitionKey, list[int]] = {}
    for row in rows:
        key = (str(row[-3]), int(row[-2]))  # type: ignore[call-overload]
        offset = int(row[-1])  # type: ignore[call-overload]
        span = ranges.setdefault(key, [offset, offset])
        span[0] = min(span[0], offset)
        span[1] = max(span[1], offset)
    text = ";".join(f"{t}/{p}:{a}-{b}" for (t, p), (a, b) in sorted(ranges.items()))
    return f"{table}:{len(rows)}:" + hashlib.sha256(text.encode()).hexdigest()[:24]
