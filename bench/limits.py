"""The limits the pipeline is compared with, each run as its own process:

    python -m bench.limits consume BOOTSTRAP TOPIC...        raw aiokafka, no processing (messages/s)
    python -m bench.limits insert CHDB_DIR EVENTS           raw clickhouse-connect batch insert (rows/s)

Each prints one JSON line. `insert` builds the rows of the benchmark's events (ratings and case
events, with the pipeline's own row functions) before the clock starts and times only the inserts
into a fresh embedded ClickHouse directory with the project's schema.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def consume(bootstrap: str, topics: list[str]) -> dict[str, float]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, partition) for topic in topics for partition in cluster.partitions_for_topic(topic)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp: end for tp, end in ends.items() if end > 0}
        total = sum(remaining.values())
        count = 0
        started = time.perf_counter()
        while remaining:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in fetched.items():
                count += len(records)
                if records and records[-1].offset + 1 >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"messages": count, "expected": total, "seconds": seconds, "per_second": count / seconds}


def insert(directory: str, events: int, batch_max: int = 10_000) -> dict[str, float]:
    from bench.workload import simulated
    from haochaping.decoding import decode_event
    from haochaping.events import RatingEvent
    from haochaping.rows import TABLE_COLUMNS, Source, case_event_row, rating_row
    from sinks.clickhouse import WRITE_SETTINGS, connect
    from sinks.schema import apply_migrations

    rows: dict[str, list[tuple[object, ...]]] = {"ratings": [], "case_events": []}
    for offset, record in enumerate(simulated(events)):
        event = decode_event(record.value)
        source = Source("bench", 0, offset)
        if isinstance(event, RatingEvent):
            rows["ratings"].append(rating_row(event, source, b"bench-key"))
        else:
            rows["case_events"].append(case_event_row(event, source))  # type: ignore[arg-type]
    client = connect(f"chdb://{directory}", owner="bench insert")
    apply_migrations(client)
    # Interleave the tables per batch of `batch_max` events, as the worker does.
    share = {table: len(table_rows) / events for table, table_rows in rows.items()}
    started = time.perf_counter()
    total = 0
    positions = dict.fromkeys(rows, 0)
    while any(positions[table] < len(rows[table]) for table in rows):
        for table, table_rows in rows.items():
            step = max(1, round(batch_max * share[table]))
            chunk = table_rows[positions[table] : positions[table] + step]
            positions[table] += step
            if chunk:
                client.insert(table, chunk, column_names=list(TABLE_COLUMNS[table]), settings=WRITE_SETTINGS)
                total += len(chunk)
    seconds = time.perf_counter() - started
    return {"rows": total, "seconds": seconds, "per_second": total / seconds}


def main(argv: list[str]) -> int:
    if argv[:1] == ["consume"]:
        result = asyncio.run(consume(argv[1], argv[2:]))
    elif argv[:1] == ["insert"]:
        result = insert(argv[1], int(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
