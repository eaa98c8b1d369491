"""`hcp sql`: read-only SQL for analysts, and how every reading command reaches ClickHouse.

Embedded mode: through the running worker's web server (found by data/worker.json), or
directly when no worker holds the directory. Server mode: readonly=1 on every query.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from cli import Subcommands
from haochaping.settings import Settings

if TYPE_CHECKING:  # sinks (and clickhouse_connect) are imported when a query runs, not when `hcp` starts
    from sinks.analytics import Runner
    from sinks.queries import Table

WORKER_FILE = "worker.json"  # written by the worker (streams/web.py)


class ReaderUnavailable(RuntimeError):
    pass


class QueryFailed(RuntimeError):
    pass


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "sql",
        help="run read-only SQL against ClickHouse (through the worker while it runs)",
        description="Run one read-only SQL statement and print the result. In embedded mode the query goes "
        "through the running worker (its web server, found by data/worker.json) or, when no worker runs, "
        "opens the directory itself; against a ClickHouse server every query runs with readonly=1. "
        "Writes, DDL and table functions that read files or URLs are refused. Tables: docs/analysts.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        '  hcp sql "SELECT step, sum(negatives) / sum(ratings) AS rate FROM step_stats_daily GROUP BY step"\n'
        "  hcp sql --param step=DATA_SHARE \\\n"
        '      "SELECT province, sum(ratings) FROM step_stats_daily WHERE step = {step:String} GROUP BY province"\n'
        "  echo 'SELECT count() FROM ratings' | hcp sql - --format json",
    )
    parser.add_argument("sql", help="the statement, or - to read it from stdin")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value for a {NAME:Type} placeholder (repeatable); bound by ClickHouse, never pasted into the SQL",
    )
    parser.add_argument("--format", choices=("table", "tsv", "json"), default="table", help="output (default table)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from cli.tables import format_table
    from sinks.analytics import NotOneStatement, only_statement

    text = sys.stdin.read() if args.sql == "-" else args.sql
    try:
        statement = only_statement(text)
        parameters = dict(_parameter(item) for item in args.param)
    except (ValueError, NotOneStatement) as error:
        print(f"hcp sql: {error}", file=sys.stderr)
        return 2
    try:
        with open_reader(settings, owner="hcp sql") as (runner, route):
            table = runner(statement, parameters)
    except (ReaderUnavailable, QueryFailed) as error:
        print(f"hcp sql: {error}", file=sys.stderr)
        return 1
    from sinks.reports import json_safe

    if args.format == "json":
        for row in table.rows:
            record = {name: json_safe(value) for name, value in zip(table.columns, row, strict=True)}
            print(json.dumps(record, ensure_ascii=False))
    elif args.format == "tsv":
        print("\t".join(table.columns))
        for row in table.rows:
            print("\t".join("" if value is None else _plain(json_safe(value)) for value in row))
    else:
        print(format_table(f"({len(table.rows):,} rows, via {route})", table.columns, table.rows))
    return 0


@contextmanager
def open_reader(settings: Settings, owner: str) -> Iterator[tuple[Runner, str]]:
    """(runner, route): a read-only way to run SQL, and a few words on which way it went."""
    from sinks.analytics import read_only_client
    from sinks.clickhouse import ClickHouseUnavailable, EmbeddedDirectoryBusy, open_clickhouse, redact

    if not settings.embedded_clickhouse:
        try:
            client, runner = read_only_client(settings.clickhouse, owner=owner)
        except ClickHouseUnavailable as error:
            raise ReaderUnavailable(str(error)) from error
        try:
            yield _failing_as_query(runner), f"ClickHouse server {redact(settings.clickhouse)} (readonly=1)"
        finally:
            client.close()
        return
    worker = find_worker(settings)
    if worker is not None:
        yield http_runner(worker), f"the worker (pid {worker['pid']}) on port {worker['web_port']}"
        return
    with ExitStack() as stack:
        try:
            # Migrations first: a fresh directory gets every table analysts expect.
            stack.enter_context(open_clickhouse(settings.clickhouse, owner=owner))
        except EmbeddedDirectoryBusy as error:
            raise ReaderUnavailable(
                f"{error}; its web server did not answer (is the worker still starting? "
                f"see {settings.data_dir / WORKER_FILE})"
            ) from error
        client, runner = read_only_client(settings.clickhouse, owner=owner)
        stack.callback(client.close)
        yield _failing_as_query(runner), "the embedded engine (no worker running)"


def find_worker(settings: Settings) -> dict[str, Any] | None:
    """The running worker that owns this data folder, from data/worker.json, if it answers."""
    path = settings.data_dir / WORKER_FILE
    try:
        announced = json.loads(path.read_text(encoding="utf-8"))
        pid = int(announced["pid"])
        os.kill(pid, 0)  # alive?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        health = _http_json(f"http://{announced['host']}:{announced['web_port']}/hcp/health", None, timeout=5)
    except (OSError, ValueError, QueryFailed):
        return None
    if health.get("pid") != pid or health.get("data_dir") != str(settings.data_dir.resolve()):
        return None  # a stale file, and something else listens on that port
    return dict(announced)


def http_runner(worker: Mapping[str, Any]) -> Runner:
    from sinks.queries import Table

    url = f"http://{worker['host']}:{worker['web_port']}/sql"

    def run(sql: str, parameters: Mapping[str, object]) -> Table:
        answer = _http_json(url, {"sql": sql, "parameters": dict(parameters)}, timeout=180)
        return Table(list(answer["columns"]), [tuple(row) for row in answer["rows"]])

    return run


def _http_json(url: str, body: Mapping[str, Any] | None, timeout: float) -> dict[str, Any]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("error", str(error))
        except ValueError:
            message = str(error)
        raise QueryFailed(message) from None
    return answer


def _failing_as_query(runner: Runner) -> Runner:
    """Engine errors reach the analyst as one line, not a traceback."""

    def run(sql: str, parameters: Mapping[str, object]) -> Table:
        try:
            return runner(sql, parameters)
        except Exception as error:
            lines = str(error).strip().splitlines()
            raise QueryFailed(lines[0] if lines else type(error).__name__) from error

    return run


def _parameter(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.isidentifier():
        raise ValueError(f"--param {item!r}: expected NAME=VALUE")
    return name, value


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
