"""Spike alerts end to end: the simulator publishes traffic with an injected incident (安徽's
审查/审核 step degrading), the real worker detects it and sends a firing alert to the alerts topic,
ClickHouse and a local webhook receiver (HMAC-signed), then a resolved one after the incident ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from kafka import KafkaConsumer

from haochaping.settings import Settings
from producers.publisher import Publisher
from producers.topics import ensure_topics
from sinks.clickhouse import open_clickhouse
from sinks.webhooks import SIGNATURE_HEADER, sign
from tests.integration.conftest import ROOT, WorkerProcess

SECRET = "webhook-test-secret"
INCIDENT = "province=340000,step=REVIEW,start=2026-11-20T00:00:00+08:00,end=2026-11-23T00:00:00+08:00,factor=20"
SIMULATION = [
    "--seed",
    "11",
    "--count",
    "150000",
    "--cases-per-hour",
    "30",
    "--provinces",
    "340000,310000",
    "--incident",
    INCIDENT,
]
WINDOW_SECONDS = 12 * 3600
MIN_RATINGS = 10
PUBLISH_RATE = 1_500  # events per second, below what the worker drains on two busy cores
PUBLISH_CHUNK = 500


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[bytes, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, self.headers.get(SIGNATURE_HEADER, "")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    received: ClassVar[list[tuple[bytes, str]]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()


def _alerts_topic(settings: Settings) -> list[dict[str, object]]:
    consumer = KafkaConsumer(
        settings.topics["alerts"],
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
    )
    try:
        return [json.loads(record.value) for record in consumer]
    finally:
        consumer.close()


def test_incident_fires_then_resolves_everywhere(
    pipeline_settings: Settings,
    worker_factory: type[WorkerProcess],
    webhook_receiver: tuple[str, list[tuple[bytes, str]]],
    tmp_path: Path,
) -> None:
    url, received = webhook_receiver
    settings = pipeline_settings.with_changes(
        webhook_urls=(url,),
        webhook_secret=SECRET,
        alert_window_seconds=WINDOW_SECONDS,
        alert_min_ratings=MIN_RATINGS,
    )
    sample = tmp_path / "incident.jsonl"
    subprocess.run(
        [sys.executable, "-m", "cli.main", "simulate", *SIMULATION, "--out", str(sample)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    ensure_topics(settings)
    worker = worker_factory(settings, tmp_path / "worker.log")
    worker.start()
    # Published as portals would, live and paced: the worker joins each rating with the case
    # events published before it (a backlog read side by side would not guarantee that).
    lines = sample.read_bytes().splitlines()
    started = time.monotonic()
    with Publisher(settings) as publisher:
        for number in range(0, len(lines), PUBLISH_CHUNK):
            assert publisher.publish_lines(lines[number : number + PUBLISH_CHUNK]).refused == []
            publisher.flush()
            ahead = (number + PUBLISH_CHUNK) / PUBLISH_RATE - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    worker.wait_until_drained(timeout=600)
    deadline = time.monotonic() + 30  # webhooks are delivered in the background
    while time.monotonic() < deadline and len(received) < 2:
        time.sleep(0.2)
    assert worker.stop() == 0

    on_topic = _alerts_topic(settings)
    incident = [a for a in on_topic if a["province"] == "340000" and a["step"] == "REVIEW"]
    states = [alert["state"] for alert in incident]
    assert "firing" in states and "resolved" in states, on_topic
    assert states.index("firing") < states.index("resolved")
    firing = incident[states.index("firing")]
    assert firing["rate"] > 2 * firing["baseline"]  # type: ignore[operator]
    assert {alert["province"] for alert in on_topic} == {"340000"}  # 上海 had no incident

    delivered = [json.loads(body) for body, _ in received]
    assert [alert["alert_id"] for alert in delivered] == [alert["alert_id"] for alert in on_topic]
    for body, signature in received:
        assert signature == sign(body, SECRET)

    with open_clickhouse(settings.clickhouse, owner="test") as client:
        stored = client.query("SELECT alert_id, state, province, step FROM alerts FINAL ORDER BY alert_id").result_rows
    assert sorted(stored) == sorted(
        (alert["alert_id"], alert["state"], alert["province"], alert["step"]) for alert in on_topic
    )
