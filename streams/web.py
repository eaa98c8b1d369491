"""The worker's web views for analysts: the live dashboard, its data, and read-only SQL.

Registered on the Faust web server by streams/worker.py. In embedded mode this process owns
the chDB directory, so `hcp sql` and `hcp report` query through here while the worker runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import faust
from clickhouse_connect.driver.client import Client
from faust.web import Request, Response, View

from haochaping.catalog import default_catalog
from haochaping.settings import Settings
from sinks import reports
from sinks.analytics import NotOneStatement, Runner, client_runner, only_statement, read_only_client
from sinks.clickhouse import redact
from sinks.queries import Table
from streams.dashboard import render_page

log = logging.getLogger(__name__)

WORKER_FILE = "worker.json"
DASHBOARD_PATH = "/dashboard"
DATA_PATH = "/dashboard/data.json"
SQL_PATH = "/sql"
HEALTH_PATH = "/hcp/health"
METRICS_PATH = "/metrics"
PAYLOAD_CACHE_SECONDS = 5.0  # many open dashboards cost one set of queries every few seconds
MAX_SQL_CHARS = 100_000
MAX_ROWS = 100_000


class _Reader:
    """This process's read-only ClickHouse handle, opened on first use; queries run in a thread.

    The handle is its own chDB connection (readonly=1), separate from the writer's, so a long
    query neither blocks the event loop nor interleaves with an insert on the writer's handle;
    the semaphore keeps web queries from queueing up without bound.
    """

    def __init__(self, settings: Settings, client_provider: Callable[[], Client] | None) -> None:
        self._settings = settings
        self._provider = client_provider
        self._runner: Runner | None = None
        self._opening = threading.Lock()
        self._slots = asyncio.Semaphore(2)
        self._cache: dict[str, tuple[float, bytes]] = {}

    def runner(self) -> Runner:
        with self._opening:
            if self._runner is None:
                if self._provider is not None:
                    self._runner = client_runner(self._provider())
                else:
                    _, self._runner = read_only_client(self._settings.clickhouse, owner="hcp worker")
            return self._runner

    async def call(self, work: Callable[[Runner], Any]) -> Any:
        async with self._slots:
            return await asyncio.to_thread(lambda: work(self.runner()))

    async def payload(self, query: Mapping[str, str]) -> bytes:
        key = json.dumps(sorted(query.items()))
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < PAYLOAD_CACHE_SECONDS:
            return cached[1]
        body: bytes = await self.call(lambda run: _dashboard_json(run, query))
        self._cache = {key: (time.monotonic(), body)}  # the last one only: filters vary little
        return body


def register_web(
    app: faust.App,
    settings: Settings,
    client_provider: Callable[[], Client] | None = None,
    metrics: Callable[[], Mapping[str, float]] | None = None,
    misplaced: Callable[[], Mapping[str, int]] | None = None,
) -> None:
    """Add the dashboard, /sql, /metrics and /hcp/health to `app`'s web server; announce it in data/worker.json.

    `client_provider` returns a read-only client; by default this process opens its own
    readonly=1 handle (sinks.analytics.read_only_client). `misplaced`: this worker's count of
    records on the wrong partition, per topic, shown on the live dashboard.
    """
    reader = _Reader(settings, client_provider)

    class Dashboard(View):
        async def get(self, request: Request) -> Response:
            refresh = _int(request.query.get("refresh"), 15, 1, 3600)
            return self.html(render_page(None, live_url=DATA_PATH, refresh_seconds=refresh))

    class DashboardData(View):
        async def get(self, request: Request) -> Response:
            query = {key: value for key, value in request.query.items() if key != "refresh"}
            try:
                body = await reader.payload(query)
                if misplaced is not None:
                    body = _with_worker(body, {"misplaced_by_topic": dict(misplaced())})
            except ValueError as error:
                return self.json({"error": str(error)}, status=400)
            except Exception as error:  # ClickHouse errors of any kind: tell the page, keep serving
                log.warning("dashboard data failed: %s", error)
                return self.json({"error": _first_line(error)}, status=500)
            return self.bytes(body, content_type="application/json")

    class Sql(View):
        async def post(self, request: Request) -> Response:
            try:
                body = json.loads(await request.read() or b"{}")
                sql = body.get("sql")
                parameters = body.get("parameters") or {}
                if not isinstance(sql, str) or len(sql) > MAX_SQL_CHARS or not isinstance(parameters, dict):
                    raise ValueError(f'send {{"sql": "SELECT …", "parameters": {{…}}}}, at most {MAX_SQL_CHARS} chars')
                statement = only_statement(sql)
            except (ValueError, NotOneStatement) as error:
                return self.json({"error": str(error)}, status=400)
            try:
                table: Table = await reader.call(lambda run: run(statement, parameters))
            except Exception as error:  # the engine's message is what the analyst needs
                return self.json({"error": _first_line(error)}, status=400)
            rows = [reports.json_safe(row) for row in table.rows[:MAX_ROWS]]
            truncated = len(table.rows) > MAX_ROWS
            return self.json({"columns": table.columns, "rows": rows, "truncated": truncated})

    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({**_identity(settings), "assigned": _assigned(app)})

    app.page(DASHBOARD_PATH)(Dashboard)
    app.page(DATA_PATH)(DashboardData)
    app.page(SQL_PATH)(Sql)
    app.page(HEALTH_PATH)(Health)

    if metrics is not None:
        read_metrics = metrics

        class Metrics(View):
            async def get(self, request: Request) -> Response:
                return self.text(prometheus_text(read_metrics()), content_type="text/plain; version=0.0.4")

        app.page(METRICS_PATH)(Metrics)

    worker_file = settings.data_dir / WORKER_FILE

    @app.task  # type: ignore[untyped-decorator]
    async def announce() -> None:
        _write_worker_file(worker_file, settings)
        log.info("dashboard at http://%s:%d%s", _host(app), settings.web_port, DASHBOARD_PATH)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def withdraw(sender: object, **kwargs: object) -> None:
        _remove_worker_file(worker_file)


def prometheus_text(values: Mapping[str, float]) -> str:
    """Counters in Prometheus' text format, one `hcp_<name>` line each (names sorted)."""
    return "".join(f"hcp_{name} {value:g}\n" for name, value in sorted(values.items()))


def _dashboard_json(run: Runner, query: Mapping[str, str]) -> bytes:
    filters = reports.Filters(
        province=query.get("province", ""),
        matter=query.get("matter", ""),
        mode=query.get("mode", ""),
        limit=_int(query.get("limit"), 20, 1, 200),
        min_ratings=_int(query.get("min_ratings"), 30, 1, 1_000_000),
    )
    since = reports.parse_moment(query["since"]) if query.get("since") else None
    until = reports.parse_moment(query["until"]) if query.get("until") else None
    days = float(_int(query.get("days"), reports.DEFAULT_DAYS, 1, 3660))
    period = reports.resolve_period(run, since, until, days=days)
    catalog = default_catalog()
    names = {code: matter.name for code, matter in catalog.matters.items()}
    payload = reports.dashboard_payload(run, period, filters, names)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _with_worker(body: bytes, worker: dict[str, Any]) -> bytes:
    """The cached ClickHouse payload with this worker's own counters added (they change every batch)."""
    assert body.endswith(b"}"), "the dashboard payload is a JSON object"
    return body[:-1] + b',"worker":' + json.dumps(worker, ensure_ascii=False, separators=(",", ":")).encode() + b"}"


def _identity(settings: Settings) -> dict[str, Any]:
    return {
        "service": "hcp worker",
        "pid": os.getpid(),
        "data_dir": str(settings.data_dir.resolve()),
        "clickhouse": redact(settings.clickhouse),
        "web_port": settings.web_port,
    }


def _assigned(app: faust.App) -> dict[str, list[int]]:
    """The partitions this worker consumes now, by topic (empty while it joins or rebalances)."""
    try:
        assignment = app.consumer.assignment()
    except Exception:  # no consumer yet, or it is being rebuilt
        return {}
    partitions: dict[str, list[int]] = {}
    for tp in sorted(assignment):
        partitions.setdefault(tp.topic, []).append(tp.partition)
    return partitions


def _write_worker_file(path: Path, settings: Settings) -> None:
    """data/worker.json tells `hcp sql` and `hcp report` where this worker listens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    announcement = {**_identity(settings), "host": "127.0.0.1", "started_at": time.time()}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(announcement), encoding="utf-8")
    temporary.replace(path)


def _remove_worker_file(path: Path) -> None:
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass  # gone already, or another worker's: leave it


def _host(app: faust.App) -> str:
    return str(getattr(app.conf, "web_bind", "127.0.0.1"))


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        return default
    return max(low, min(high, value))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
