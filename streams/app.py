"""Builds the Faust application from Settings (no module-level app).

Raw bytes in, raw bytes out: the core decodes, so the dead-letter topic can
carry the original bytes untouched.
"""

from __future__ import annotations

import faust

from haochaping.settings import Settings


def create_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        # Commit acknowledged offsets about once a second; a batch is acknowledged
        # only after ClickHouse holds it (streams/ingest.py).
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=True,
        web_bind="127.0.0.1",
        web_port=settings.web_port,
        datadir=str(settings.data_dir / "faust"),
        # A ClickHouse outage is waited out inside the agent; don't treat it as a hang.
        stream_processing_timeout=600.0,
    )
