"""ClickHouse connection for every process: the embedded engine (chDB) or a server.

`HCP_CLICKHOUSE_URL` chooses: chdb:///dir (default, under the data folder) or
http(s)://user:password@host:8123/database (the user and password may also come from
HCP_CLICKHOUSE_USER and HCP_CLICKHOUSE_PASSWORD; Settings.clickhouse folds them in).
Nothing else in the code differs. The URL is only ever shown through `redact`.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from haochaping.secrecy import hide_in_logs
from haochaping.settings import redact_url

log = logging.getLogger(__name__)

# Every write is synchronous: deduplication tokens do not apply to async inserts,
# and "written" must mean queryable before offsets are committed.
WRITE_SETTINGS: dict[str, Any] = {
    "async_insert": 0,
    "wait_for_async_insert": 1,
    # A retried block that reached the table but not its views must still reach the views once.
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


class ClickHouseUnavailable(RuntimeError):
    pass


class EmbeddedDirectoryBusy(ClickHouseUnavailable):
    pass


_held_locks: dict[str, IO[str]] = {}


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return redact_url(url)


def connect(url: str, owner: str = "hcp") -> Client:
    """Open a client; for chDB, take the directory's lock first (one process per directory)."""
    if url.startswith("chdb://"):
        directory = Path(url.removeprefix("chdb://"))
        _lock_embedded_directory(directory, owner)
        return clickhouse_connect.get_client(dsn=f"chdb://{directory}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ClickHouseUnavailable(f"HCP_CLICKHOUSE_URL scheme {parts.scheme!r} is not chdb, http or https")
    password = unquote(parts.password or "")
    hide_in_logs(password, parts.password or "")
    try:
        return clickhouse_connect.get_client(
            host=parts.hostname or "localhost",
            port=parts.port or (8443 if parts.scheme == "https" else 8123),
            username=unquote(parts.username or "") or "default",
            password=password,
            database=(parts.path or "/").lstrip("/") or "default",
            secure=parts.scheme == "https",
        )
    except Exception as error:  # the driver raises several kinds; all mean the same here
        # Neither the message nor the chained driver error may carry the password.
        reason = _without(str(error), password, parts.password)
        raise ClickHouseUnavailable(f"cannot reach ClickHouse at {redact(url)}: {reason}") from None


def _without(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _lock_embedded_directory(directory: Path, owner: str) -> None:
    key = str(directory.resolve())
    if key in _held_locks:
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    lock_path = directory.parent / f"{directory.name}.lock"
    handle = lock_path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise EmbeddedDirectoryBusy(
            f"the embedded ClickHouse directory {directory} is open in {holder}; "
            "only one process may open it (stop that process, or query through it)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{owner} (pid {os.getpid()})\n")
    handle.flush()
    _held_locks[key] = handle
    log.debug("took the lock on %s", directory)


def release_embedded_lock(url: str) -> None:
    if not url.startswith("chdb://"):
        return
    handle = _held_locks.pop(str(Path(url.removeprefix("chdb://")).resolve()), None)
    if handle is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextmanager
def open_clickhouse(url: str, owner: str = "hcp") -> Iterator[Client]:
    """Connect, apply migrations, and close (releasing an embedded directory) on exit."""
    from sinks.schema import apply_migrations

    client = connect(url, owner=owner)
    try:
        apply_migrations(client)
        yield client
    finally:
        client.close()
        release_embedded_lock(url)
