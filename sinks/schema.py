"""Versioned, idempotent schema migrations, applied at start-up by whoever opens ClickHouse first.

Files are sinks/migrations/NNNN_name.sql; applied versions are recorded in
hcp_schema_migrations, and every statement is itself safe to run twice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        without_comments = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        # A statement ends with ";" at the end of a line, so ";" inside strings is safe.
        return [part.strip() for part in re.split(r";[ \t]*$", without_comments, flags=re.MULTILINE) if part.strip()]


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("sinks.migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


def apply_migrations(client: Client) -> list[Migration]:
    """Apply what is missing; returns the migrations applied by this call."""
    client.command(
        "CREATE TABLE IF NOT EXISTS hcp_schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query("SELECT version FROM hcp_schema_migrations").result_rows}
    applied = []
    for migration in available_migrations():
        if migration.version in done:
            continue
        for statement in migration.statements():
            client.command(statement)
        client.insert("hcp_schema_migrations", [[migration.version, migration.name]], column_names=["version", "name"])
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration)
    return applied
