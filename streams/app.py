"""Builds the Faust application from Settings (no module-level app).

Raw bytes in, raw bytes out: the core decodes, so the dead-letter topic can
carry the original bytes untouched.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import faust
from faust.types import EventT, StreamT
from faust.types.auth import CredentialsT

from haochaping.secrecy import hide_in_logs
from haochaping.settings import Settings


def create_app(settings: Settings) -> faust.App:
    hide_in_logs(settings.kafka_sasl_password)
    # Faust creates only the last level of its datadir; with a ClickHouse server nothing else
    # would create the data folder itself.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(settings),
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
        # Faust's performance settings (cython_optimizations, a larger stream_buffer_maxsize) are
        # left at their defaults: with them the two-worker tests saw more records fetched before a
        # rebalance delivered after it (docs/operations.md); measured in docs/benchmarks.md.
    )


def broker_credentials(settings: Settings) -> CredentialsT | None:
    """The worker's Kafka security, the same as the kafka-python clients' (producers/security.py)."""
    protocol = settings.kafka_security_protocol
    context = _ssl_context(settings) if protocol.endswith("SSL") else None
    if protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,  # SASL_SSL when given, SASL_PLAINTEXT otherwise
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ssl_cafile or None)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile or None)
    return context


# Faust's decorators and mode's signals are typed loosely; these apply them with typed handlers.
AsyncHandler = Callable[..., Awaitable[None]]


def every(app: faust.App, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    """Run `job` every `seconds` while the worker runs (app.timer)."""
    app.timer(interval=seconds)(job)


def at_start(app: faust.App, job: Callable[[], Awaitable[None]]) -> None:
    """Run `job` once as the worker starts (app.task)."""
    app.task(job)


def on_signal(signal: Any, handler: AsyncHandler) -> None:
    """Connect `handler(sender, *args, **kwargs)` to one of the app's signals (on_partitions_assigned, …)."""
    signal.connect(handler)


async def event_batches(stream: StreamT[bytes], max_records: int, within: float) -> AsyncIterator[list[EventT[bytes]]]:
    """Batches of unacknowledged events (Stream.noack_take yields events, though typed as values)."""
    async for batch in cast("faust.Stream[bytes]", stream).noack_take(max_records, within=within):
        yield cast("list[EventT[bytes]]", batch)
