"""Starts the worker process: topics checked, ClickHouse opened and migrated, agents attached.

In embedded mode this process owns the chDB directory for as long as it runs.
"""

from __future__ import annotations

import gc
import logging
from datetime import date, timedelta

from faust.worker import Worker

from haochaping.catalog import default_catalog
from haochaping.holidays import UPGRADE_HINT
from haochaping.ingest import Ingestor
from haochaping.settings import Settings
from haochaping.tracing import prepare as prepare_tracing
from producers.security import describe_security
from producers.topics import ensure_topics
from sinks.clickhouse import connect, redact
from sinks.schema import apply_migrations
from sinks.writer import ClickHouseWriter
from streams.app import create_app
from streams.ingest import register_ingest
from streams.web import register_web

log = logging.getLogger(__name__)
# Warn at start-up when the holiday calendar ends sooner than this (its next year is published in November).
CALENDAR_WARNING = timedelta(days=60)


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    counts = ensure_topics(settings)
    client = connect(settings.clickhouse, owner="hcp worker")
    applied = apply_migrations(client)
    calendar = settings.calendar
    log.info(
        "Kafka %s (%s); ClickHouse %s ready (%d migrations applied now); topics %s; working days on the %s%s",
        settings.kafka_bootstrap,
        describe_security(settings),
        redact(settings.clickhouse),
        len(applied),
        counts,
        calendar.name,
        f" ({calendar.covers.years}, {calendar.source})" if calendar.covers is not None else "",
    )
    if calendar.covers is not None and calendar.covers.last < date.today() + CALENDAR_WARNING:
        # Past its last year every day counts Mon–Fri (counted and logged); say so while there is time.
        log.warning("the %s ends on %s: %s (%s)", calendar.name, calendar.covers.last, UPGRADE_HINT, calendar.source)
    prepare_tracing()  # the vocabulary compiles at start-up, not inside the first batch
    app = create_app(settings)
    portals = {topic: code for code, topic in settings.province_topics.items()}
    ingestor = Ingestor(
        {settings.topics["ratings"]: "rating", settings.topics["cases"]: "case", **dict.fromkeys(portals, "rating")},
        settings.pseudonym_key,
        default_catalog(),
        calendar,  # lenient: a date outside the official calendar counts Mon–Fri, counted and logged
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
