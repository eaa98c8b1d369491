"""The limits the pipeline is compared with, each run as its own process:

    python -m bench.limits consume BOOTSTRAP TOPIC...        raw aiokafka, no processing (messages/s)
    python -m bench.limits insert CHDB_DIR EVENTS           raw clickhouse-connect batch insert (rows/s)
    HCP_...=... python -m bench.limits faust EXPECTED       a trivial Faust agent, the worker's settings

Each prints one JSON line. `insert` builds the rows of the benchmark's events (ratings and case
events, with the pipeline's own row functions) before the clock starts and times only the inserts
into a fresh embedded ClickHouse directory with the project's schema.

`faust` reads its Settings from the environment exactly as `hcp worker` does (the bench passes
`Settings.to_env()`), builds the app with the worker's own `streams.app.create_app(settings)`, so
every Faust setting the worker has (or gains) applies, and attaches one agent to
`settings.source_topics`, declared like the worker's (`acks=False`: the worker commits its own
positions, not through Faust), that takes batches with `noack_take(batch_max, within=batch_seconds)`
and counts them — nothing else. Its clock runs from the first message received (Faust's own
receive time, `Message.time_in`) to the EXPECTED-th event taken; then it prints its JSON line and
stops the worker with SIGTERM, as an operator would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import NoReturn


def partitions_of(bootstrap: str, topics: list[str]) -> dict[str, list[int]]:
    """Partition numbers per topic, from a metadata request (kafka-python's public API)."""
    from kafka import KafkaConsumer

    probe = KafkaConsumer(bootstrap_servers=bootstrap, client_id="hcp-bench-metadata")
    try:
        found = {topic: sorted(probe.partitions_for_topic(topic) or ()) for topic in topics}
    finally:
        probe.close()
    missing = [topic for topic, partitions in found.items() if not partitions]
    if missing:
        raise RuntimeError(f"no such topic(s) on {bootstrap}: {missing}")
    return found


async def consume(bootstrap: str, topics: list[str]) -> dict[str, float]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    known = partitions_of(bootstrap, topics)  # before the clock, like the assignment below
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, partition) for topic, numbers in known.items() for partition in numbers]
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


def trivial_faust(expected: int) -> NoReturn:
    """The trivial Faust agent (module docstring): prints its figures once EXPECTED events are taken."""
    from faust.worker import Worker

    from haochaping.settings import Settings
    from streams.app import create_app

    settings = Settings.from_env(os.environ)
    app = create_app(settings)
    source = app.topic(*settings.source_topics, value_type=bytes, key_type=bytes, acks=False)
    clock: dict[str, float] = {}
    counts = {"taken": 0, "batches": 0}
    result: dict[str, object] = {}

    @app.task
    async def started() -> None:  # the app runs (its web server is up), like the pipeline row's clock start
        clock["started"] = time.monotonic()

    @app.agent(source, concurrency=1, name="trivial_drain")
    async def trivial_drain(stream):  # type: ignore[no-untyped-def]
        async for batch in stream.noack_take(settings.batch_max, within=settings.batch_seconds):
            if "first" not in clock:
                received = [event.message.time_in for event in batch if event.message.time_in is not None]
                clock["first"] = min(received) if received else time.monotonic()
            counts["taken"] += len(batch)
            counts["batches"] += 1
            if counts["taken"] >= expected and not result:
                done = time.monotonic()
                seconds = done - clock["first"]
                result.update(
                    messages=counts["taken"],
                    expected=expected,
                    batches=counts["batches"],
                    seconds=seconds,
                    per_second=counts["taken"] / seconds,
                    seconds_from_app_start=done - clock.get("started", clock["first"]),
                )
                print(json.dumps(result), flush=True)
                os.kill(os.getpid(), signal.SIGTERM)  # a graceful stop, as `hcp worker` gets one

    # stdout stays ours (the JSON line): Faust's logs and terminal output go to stderr.
    Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False, stdout=sys.stderr).execute_from_commandline()


def main(argv: list[str]) -> int:
    if argv[:1] == ["consume"]:
        result = asyncio.run(consume(argv[1], argv[2:]))
    elif argv[:1] == ["insert"]:
        result = insert(argv[1], int(argv[2]))
    elif argv[:1] == ["faust"]:
        trivial_faust(int(argv[1]))  # prints its own line; the Faust worker exits the process
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
