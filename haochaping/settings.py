"""Runtime settings, read once from the environment into a frozen object.

Nothing reads os.environ at import time; `Settings.from_env()` is called by the
command line and passed down, so tests build their own Settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap: str = "127.0.0.1:9092"
    # chdb:///abs/dir (embedded, default under data_dir) or http(s)://user:pw@host:8123/db
    clickhouse_url: str = ""
    data_dir: Path = Path("data")
    topic_prefix: str = "hcp."
    partitions: int = 4
    consumer_group: str = "hcp-worker"
    batch_max: int = 10_000
    batch_seconds: float = 1.0
    web_port: int = 6066
    # Case timelines are kept this long after their last event (event time), then dropped.
    timeline_retention_days: int = 30
    timeline_sweep_seconds: float = 600.0
    # Alerts: webhooks (comma-separated URLs) get each alert as JSON, signed with HMAC-SHA256.
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = field(default="", repr=False)
    webhook_max_attempts: int = 5
    # Detector window in seconds (0: the detector's own default, 6 hours); tests shorten it.
    alert_window_seconds: int = 0
    alert_min_ratings: int = 0  # 0: the detector's default
    # Dead-letter guard: stop when more than this share of recent messages is invalid.
    dlq_max_ratio: float = 0.5
    dlq_min_messages: int = 1_000
    pseudonym_key: bytes = field(default=b"", repr=False)

    @property
    def topics(self) -> dict[str, str]:
        p = self.topic_prefix
        return {
            "ratings": f"{p}ratings",
            "cases": f"{p}case-events",
            "deadletter": f"{p}deadletter",
            "attributions": f"{p}attributions",
            "alerts": f"{p}alerts",
        }

    @property
    def clickhouse(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse.startswith("chdb://")

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The environment that makes a child process (`hcp worker`) see these settings."""
        return {
            "HCP_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "HCP_CLICKHOUSE_URL": self.clickhouse_url,
            "HCP_DATA_DIR": str(self.data_dir),
            "HCP_TOPIC_PREFIX": self.topic_prefix,
            "HCP_PARTITIONS": str(self.partitions),
            "HCP_CONSUMER_GROUP": self.consumer_group,
            "HCP_BATCH_MAX": str(self.batch_max),
            "HCP_BATCH_SECONDS": str(self.batch_seconds),
            "HCP_WEB_PORT": str(self.web_port),
            "HCP_TIMELINE_RETENTION_DAYS": str(self.timeline_retention_days),
            "HCP_TIMELINE_SWEEP_SECONDS": str(self.timeline_sweep_seconds),
            "HCP_WEBHOOK_URLS": ",".join(self.webhook_urls),
            "HCP_WEBHOOK_SECRET": self.webhook_secret,
            "HCP_WEBHOOK_MAX_ATTEMPTS": str(self.webhook_max_attempts),
            "HCP_ALERT_WINDOW_SECONDS": str(self.alert_window_seconds),
            "HCP_ALERT_MIN_RATINGS": str(self.alert_min_ratings),
            "HCP_DLQ_MAX_RATIO": str(self.dlq_max_ratio),
            "HCP_DLQ_MIN_MESSAGES": str(self.dlq_min_messages),
            "HCP_PSEUDONYM_KEY": self.pseudonym_key.decode("utf-8"),
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def number(name: str, default: float, kind: type[int] | type[float]) -> Any:
            raw = environ.get(name)
            if raw is None or raw == "":
                return default
            try:
                return kind(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None

        defaults = cls()
        data_dir = Path(environ.get("HCP_DATA_DIR") or defaults.data_dir)
        key = environ.get("HCP_PSEUDONYM_KEY", "")
        return cls(
            kafka_bootstrap=environ.get("HCP_KAFKA_BOOTSTRAP") or defaults.kafka_bootstrap,
            clickhouse_url=environ.get("HCP_CLICKHOUSE_URL", ""),
            data_dir=data_dir,
            topic_prefix=environ.get("HCP_TOPIC_PREFIX", defaults.topic_prefix),
            partitions=number("HCP_PARTITIONS", defaults.partitions, int),
            consumer_group=environ.get("HCP_CONSUMER_GROUP") or defaults.consumer_group,
            batch_max=number("HCP_BATCH_MAX", defaults.batch_max, int),
            batch_seconds=number("HCP_BATCH_SECONDS", defaults.batch_seconds, float),
            web_port=number("HCP_WEB_PORT", defaults.web_port, int),
            timeline_retention_days=number("HCP_TIMELINE_RETENTION_DAYS", defaults.timeline_retention_days, int),
            timeline_sweep_seconds=number("HCP_TIMELINE_SWEEP_SECONDS", defaults.timeline_sweep_seconds, float),
            webhook_urls=tuple(url for url in environ.get("HCP_WEBHOOK_URLS", "").split(",") if url.strip()),
            webhook_secret=environ.get("HCP_WEBHOOK_SECRET", ""),
            webhook_max_attempts=number("HCP_WEBHOOK_MAX_ATTEMPTS", defaults.webhook_max_attempts, int),
            alert_window_seconds=number("HCP_ALERT_WINDOW_SECONDS", defaults.alert_window_seconds, int),
            alert_min_ratings=number("HCP_ALERT_MIN_RATINGS", defaults.alert_min_ratings, int),
            dlq_max_ratio=number("HCP_DLQ_MAX_RATIO", defaults.dlq_max_ratio, float),
            dlq_min_messages=number("HCP_DLQ_MIN_MESSAGES", defaults.dlq_min_messages, int),
            pseudonym_key=key.encode("utf-8") if key else _local_key(data_dir),
        )


def _local_key(data_dir: Path) -> bytes:
    """A per-installation random key kept in the data folder, for when HCP_PSEUDONYM_KEY is unset."""
    import secrets

    path = data_dir / "pseudonym.key"
    if path.exists():
        return path.read_bytes()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    path.write_bytes(key)
    path.chmod(0o600)
    return key
