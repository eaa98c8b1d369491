"""SASL on the project's own broker: the SASL_PLAINTEXT/PLAIN listener infra/kafka/kafka.sh opens
on the client port + 2, with the development users hcp-portal and hcp-worker.

With the right password the publisher, a consumer, the admin client and the Faust worker all
authenticate and the messages go through; with a wrong one every kafka-python client fails with
a KafkaAuthenticationError that says why, within the bootstrap timeout; and the password appears
in no log line, neither of this process nor of the worker.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from haochaping.settings import Settings
from producers import security
from producers.publisher import Publisher
from producers.security import KafkaAuthenticationError, kafka_client
from producers.topics import admin_client, ensure_topics
from sinks.clickhouse import open_clickhouse
from tests.integration.conftest import WorkerProcess
from tests.wire import case_event, encode, rating

# The development users in infra/kafka/kafka.sh.
PORTAL = ("hcp-portal", "hcp-portal-secret")
WORKER = ("hcp-worker", "hcp-worker-secret")
WRONG_PASSWORD = "not-the-hcp-portal-secret"


@pytest.fixture(scope="session")
def kafka_sasl_bootstrap(kafka_bootstrap: str) -> str:
    """The broker's SASL listener: HCP_KAFKA_SASL_BOOTSTRAP, or the plaintext port + 2 (kafka.sh's default)."""
    host, port = kafka_bootstrap.split(",")[0].rsplit(":", 1)
    bootstrap = os.environ.get("HCP_KAFKA_SASL_BOOTSTRAP") or f"{host}:{int(port) + 2}"
    sasl_host, sasl_port = bootstrap.rsplit(":", 1)
    try:
        socket.create_connection((sasl_host, int(sasl_port)), timeout=5).close()
    except OSError as error:
        pytest.fail(
            f"no SASL listener answers at {bootstrap} ({error}): the broker at {kafka_bootstrap} was started "
            "without one; restart it with infra/kafka/kafka.sh restart (same HCP_KAFKA_PORT)"
        )
    return bootstrap


def _sasl(settings: Settings, bootstrap: str, user: str, password: str) -> Settings:
    return settings.with_changes(
        kafka_bootstrap=bootstrap,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username=user,
        kafka_sasl_password=password,
    )


def _no_password_in(text: str, *passwords: str) -> None:
    for password in passwords:
        assert password not in text, f"the password {password[:3]}… appears in the log"


def test_publisher_and_consumer_authenticate_and_a_message_round_trips(
    pipeline_settings: Settings, kafka_sasl_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything kafka-python says, at its most verbose
    portal = _sasl(pipeline_settings, kafka_sasl_bootstrap, *PORTAL)
    ensure_topics(portal)  # the admin client over SASL
    raw = encode(case_event(event_id="E-SASL-1", note="经SASL认证发送"))
    with Publisher(portal, client_id="hcp-sasl-test") as publisher:
        decoded = publisher.publish(raw)
        assert not hasattr(decoded, "reason"), decoded

    reader = _sasl(pipeline_settings, kafka_sasl_bootstrap, *WORKER)
    consumer = kafka_client(
        KafkaConsumer,
        reader,
        reader.topics["cases"],
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15_000,
    )
    try:
        received = [(record.key, record.value) for record in consumer]
    finally:
        consumer.close()
    assert received == [(b"C-0001", raw)]
    _no_password_in(caplog.text, PORTAL[1], WORKER[1])
    assert "hcp-portal" in caplog.text or "sasl" in caplog.text.lower()  # the capture did see kafka-python


@pytest.mark.parametrize(
    ("user", "password"),
    [
        pytest.param(PORTAL[0], WRONG_PASSWORD, id="wrong password"),
        pytest.param("nobody", PORTAL[1], id="unknown user"),
    ],
)
def test_a_refused_login_fails_clearly_in_bounded_time(
    pipeline_settings: Settings,
    kafka_sasl_bootstrap: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    user: str,
    password: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(security, "BOOTSTRAP_TIMEOUT_MS", 6_000)
    settings = _sasl(pipeline_settings, kafka_sasl_bootstrap, user, password)
    clients = {
        "publisher": lambda: Publisher(settings),
        "admin": lambda: admin_client(settings),
        "consumer": lambda: kafka_client(KafkaConsumer, settings, settings.topics["cases"], group_id=None),
    }
    for name, make in clients.items():
        started = time.monotonic()
        with pytest.raises(KafkaAuthenticationError) as raised:
            make()
        took = time.monotonic() - started
        message = str(raised.value)
        assert took < 30, f"{name}: took {took:.0f} s to fail"
        assert f"Kafka at {kafka_sasl_bootstrap} refused the connection" in message, message
        assert f"SASL_PLAINTEXT/PLAIN as user {user!r}" in message, message
        # The broker answers "Invalid username or password" and closes; kafka-python often sees only the close.
        assert "Invalid username or password" in message or "closed the connection during the SASL login" in message
        assert password not in message
    _no_password_in(caplog.text, password, PORTAL[1])


def test_the_worker_consumes_over_sasl_without_logging_the_password(
    pipeline_settings: Settings,
    kafka_sasl_bootstrap: str,
    worker_factory: type[WorkerProcess],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    portal = _sasl(pipeline_settings, kafka_sasl_bootstrap, *PORTAL)
    ensure_topics(portal)
    with Publisher(portal) as publisher:
        for raw in (
            encode(case_event(event_id="E-0001", step="ACCEPT", action="complete")),
            encode(rating(rating_id="R-SASL-1")),
        ):
            assert not hasattr(publisher.publish(raw), "reason")

    worker_settings = _sasl(pipeline_settings, kafka_sasl_bootstrap, *WORKER)
    worker = worker_factory(worker_settings, tmp_path / "worker.log")
    worker.start()
    worker.wait_until_drained(timeout=180)  # consumer_lag over SASL too
    assert worker.stop() == 0

    with open_clickhouse(worker_settings.clickhouse, owner="test") as client:
        assert client.query("SELECT rating_id FROM ratings").result_rows == [("R-SASL-1",)]
        assert client.query("SELECT event_id FROM case_events").result_rows == [("E-0001",)]
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "SASL_PLAINTEXT/PLAIN as user 'hcp-worker'" in log, log[-3000:]
    _no_password_in(log + caplog.text, WORKER[1], PORTAL[1])
