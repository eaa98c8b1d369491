"""The hand-written peer: what a competent engineer writes without Faust.

    python -m bench.peer BOOTSTRAP RATINGS_TOPIC CASES_TOPIC CHDB_DIR GROUP EXPECTED

A kafka-python consumer that parses each message with the same pydantic models
(`RatingEvent` / `CaseEvent.model_validate_json`), turns it into the same rows, inserts them into
ClickHouse (same schema) in batches of 10,000 and commits offsets after each insert. Invalid
messages are counted and skipped. It does none of the pipeline's other work: no case timelines,
no tracing, no attributions or step rows, no dead-letter topic, no replay de-duplication, no
event-time alignment. Prints one JSON line once it has stored EXPECTED messages.
"""

from __future__ import annotations

import json
import sys
import time

from kafka import KafkaConsumer
from pydantic import ValidationError

from haochaping.events import CaseEvent, RatingEvent
from haochaping.rows import TABLE_COLUMNS, Source, case_event_row, rating_row
from sinks.clickhouse import WRITE_SETTINGS, connect
from sinks.schema import apply_migrations

BATCH = 10_000


def main(argv: list[str]) -> int:
    bootstrap, ratings_topic, cases_topic, directory, group, expected = argv
    client = connect(f"chdb://{directory}", owner="bench peer")
    apply_migrations(client)
    consumer = KafkaConsumer(
        ratings_topic,
        cases_topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=BATCH,
        fetch_max_bytes=16 << 20,
    )
    key = b"bench-key"
    seen = invalid = 0
    started = time.perf_counter()
    try:
        while seen < int(expected):
            polled = consumer.poll(timeout_ms=1000, max_records=BATCH)
            ratings: list[tuple[object, ...]] = []
            cases: list[tuple[object, ...]] = []
            for records in polled.values():
                for record in records:
                    seen += 1
                    source = Source(record.topic, record.partition, record.offset)
                    try:
                        if record.topic == ratings_topic:
                            ratings.append(rating_row(RatingEvent.model_validate_json(record.value), source, key))
                        else:
                            cases.append(case_event_row(CaseEvent.model_validate_json(record.value), source))
                    except ValidationError:
                        invalid += 1
            for table, rows in (("ratings", ratings), ("case_events", cases)):
                if rows:
                    client.insert(table, rows, column_names=list(TABLE_COLUMNS[table]), settings=WRITE_SETTINGS)
            if polled:
                consumer.commit()
        seconds = time.perf_counter() - started
        stored = sum(
            int(client.query(f"SELECT count() FROM {table}").result_rows[0][0]) for table in ("ratings", "case_events")
        )
    finally:
        consumer.close()
        client.close()
    print(
        json.dumps(
            {"messages": seen, "invalid": invalid, "stored": stored, "seconds": seconds, "per_second": seen / seconds}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
