"""Starts the worker process: topics checked, ClickHouse opened and migrated, agents attached.

In embedded mode this process owns the chDB directory for as long as it runs.
"""

from __future__ import annotations

import gc
import logging

from faust.worker import Worker

from haochaping.catalog import default_catalog
from haochaping.ingest import Ingestor
from haochaping.settings import Settings
from producers.security import describe_security
from producers.topics import ensure_topics
from sinks.clickhouse import connect, redact
from sinks.schema import apply_migrations
from sinks.writer import ClickHouseWriter
from streams.app import create_app
from streams.ingest import register_ingest
from streams.web import register_web

log = logging.getLogger(__name__)


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    counts = ensure_topics(settings)
    client = connect(settings.clickhouse, owner="hcp worker")
    applied = apply_migrations(client)
    log.info(
        "Kafka %s (%s); ClickHouse %s ready (%d migrations applied now); topics %s",
        settings.kafka_bootstrap,
        describe_security(settings),
        redact(settings.clickhouse),
        len(applied),
        counts,
    )
    app = create_app(settings)
    portals = {topic: code for code, topic in settings.province_topics.items()}
    ingestor = Ingestor(
        {settings.topics["ratings"]: "rating", settings.topics["cases"]: "case", **dict.fromkeys(portals, "rating")},
        settings.pseudonym_key,
        default_catalog(),
        province_of_topic=portals,
    )
    counters = register_ingest(app, settings, ingestor, ClickHouseWriter(client))
    register_web(app, settings, metrics=counters.metrics, misplaced=lambda: counters.repair.misplaced)

    @app.task  # type: ignore[untyped-decorator]
    async def keep_collector_off_the_hot_path() -> None:
        # Everything alive after start-up (catalog, lexicon, modules) is never garbage: out of the
        # cyclic collector's sight; and young collections less often than every 700 allocations.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 50)

    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
