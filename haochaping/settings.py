"""Runtime settings, read once from the environment into a frozen object.

Nothing reads os.environ at import time; `Settings.from_env()` is called by the
command line and passed down, so tests build their own Settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from haochaping.holidays import CALENDAR_NAMES

if TYPE_CHECKING:
    from haochaping.workdays import WorkCalendar


class SettingsError(ValueError):
    pass


KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def redact_url(url: str) -> str:
    """The URL with its password replaced by *** (the user is kept), for logs, messages and repr."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" not in authority:
        # A password with an unencoded / ? or # leaves an @ after them: hide everything up to it.
        return url if "@" not in tail else f"{scheme}://***@{tail.rpartition('@')[2]}"
    userinfo, _, host = authority.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}{tail}"


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Kafka security for every client (kafka-python and the Faust worker); docs/operations.md.
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    kafka_sasl_mechanism: str = "PLAIN"  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)
    kafka_ssl_cafile: str = ""  # PEM; empty: the system's CA certificates
    kafka_ssl_certfile: str = ""  # client certificate (PEM) for mutual TLS
    kafka_ssl_keyfile: str = ""
    # chdb:///abs/dir (embedded, default under data_dir) or http(s)://user:pw@host:8123/db;
    # shown redacted in repr. The user and password may instead come separately.
    clickhouse_url: str = field(default="", repr=False)
    clickhouse_user: str = ""
    clickhouse_password: str = field(default="", repr=False)
    data_dir: Path = Path("data")
    topic_prefix: str = "hcp."
    partitions: int = 4
    # Each province's portal publishes ratings to its own topic {prefix}ratings.<province code>;
    # a rating for another province arriving there is dead-lettered (docs/operations.md).
    portal_topics: bool = True
    consumer_group: str = "hcp-worker"
    batch_max: int = 10_000
    batch_seconds: float = 1.0
    web_port: int = 6066
    # Case timelines are kept this long after their last event (event time), then dropped.
    timeline_retention_days: int = 30
    timeline_sweep_seconds: float = 600.0
    # A rating read before its case's events is parked at most this long (wall clock), then traced as is.
    park_max_seconds: float = 300.0
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
    # Time limits count working days on the official holidays and 调休 workdays (chinese-calendar),
    # or on Mon–Fri only ("none"); haochaping/holidays.py.
    holiday_calendar: str = "official"

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar of every time limit the worker measures (HCP_HOLIDAY_CALENDAR)."""
        from haochaping.holidays import work_calendar

        return work_calendar(self.holiday_calendar)

    @property
    def topics(self) -> dict[str, str]:
        p = self.topic_prefix
        return {
            "ratings": f"{p}ratings",
            "cases": f"{p}case-events",
            "deadletter": f"{p}deadletter",
            "attributions": f"{p}attributions",
            "alerts": f"{p}alerts",
            # Step observations routed by step to the spike detector that owns it (streams/alerts.py).
            "observations": f"{p}observations",
        }

    @property
    def province_topics(self) -> dict[str, str]:
        """Province code -> the rating topic only that province's portal may write (empty if turned off)."""
        from haochaping.codes import PROVINCES

        if not self.portal_topics:
            return {}
        return {code: f"{self.topic_prefix}ratings.{code}" for code in PROVINCES}

    @property
    def source_topics(self) -> tuple[str, ...]:
        """Every topic the worker consumes, all co-partitioned by case id: shared ratings, case events, provinces."""
        return (self.topics["ratings"], self.topics["cases"], *self.province_topics.values())

    @property
    def positions_group(self) -> str:
        """The consumer group holding the worker's committed positions in its input topics.

        The worker commits them itself after each stored batch (streams/positions.py); the
        worker group (`consumer_group`) only shares the partitions out. Lag is measured here.
        """
        return f"{self.consumer_group}.positions"

    def __post_init__(self) -> None:
        _check_kafka_security(self)
        _check_clickhouse(self)
        if self.holiday_calendar not in CALENDAR_NAMES:
            raise SettingsError(
                f"HCP_HOLIDAY_CALENDAR={self.holiday_calendar!r} is not one of {', '.join(CALENDAR_NAMES)}"
            )

    def __repr__(self) -> str:
        """Every field but the secrets; the ClickHouse URL and webhook URLs without their passwords."""
        redacted: dict[str, object] = {
            "clickhouse_url": redact_url(self.clickhouse_url),
            "webhook_urls": tuple(redact_url(url) for url in self.webhook_urls),
        }
        shown = [
            f"{f.name}={redacted.get(f.name, getattr(self, f.name))!r}"
            for f in fields(self)
            if f.repr or f.name in redacted
        ]
        return f"Settings({', '.join(shown)})"

    @property
    def clickhouse(self) -> str:
        """The URL to connect with, credentials included: pass it on, never print it (redact_url)."""
        if not self.clickhouse_url:
            return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"
        if not (self.clickhouse_user or self.clickhouse_password):
            return self.clickhouse_url
        parts = urlsplit(self.clickhouse_url)
        user = quote(self.clickhouse_user or parts.username or "default", safe="")
        password = quote(self.clickhouse_password, safe="") if self.clickhouse_password else parts.password
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{user}:{password}@{host}" if password else f"{user}@{host}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse.startswith("chdb://")

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The environment that makes a child process (`hcp worker`) see these settings."""
        return {
            "HCP_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "HCP_KAFKA_SECURITY_PROTOCOL": self.kafka_security_protocol,
            "HCP_KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            "HCP_KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            "HCP_KAFKA_SASL_PASSWORD": self.kafka_sasl_password,
            "HCP_KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "HCP_KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "HCP_KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
            "HCP_CLICKHOUSE_URL": self.clickhouse_url,
            "HCP_CLICKHOUSE_USER": self.clickhouse_user,
            "HCP_CLICKHOUSE_PASSWORD": self.clickhouse_password,
            "HCP_DATA_DIR": str(self.data_dir),
            "HCP_TOPIC_PREFIX": self.topic_prefix,
            "HCP_PARTITIONS": str(self.partitions),
            "HCP_PORTAL_TOPICS": "1" if self.portal_topics else "0",
            "HCP_CONSUMER_GROUP": self.consumer_group,
            "HCP_BATCH_MAX": str(self.batch_max),
            "HCP_BATCH_SECONDS": str(self.batch_seconds),
            "HCP_WEB_PORT": str(self.web_port),
            "HCP_TIMELINE_RETENTION_DAYS": str(self.timeline_retention_days),
            "HCP_TIMELINE_SWEEP_SECONDS": str(self.timeline_sweep_seconds),
            "HCP_PARK_MAX_SECONDS": str(self.park_max_seconds),
            "HCP_WEBHOOK_URLS": ",".join(self.webhook_urls),
            "HCP_WEBHOOK_SECRET": self.webhook_secret,
            "HCP_WEBHOOK_MAX_ATTEMPTS": str(self.webhook_max_attempts),
            "HCP_ALERT_WINDOW_SECONDS": str(self.alert_window_seconds),
            "HCP_ALERT_MIN_RATINGS": str(self.alert_min_ratings),
            "HCP_DLQ_MAX_RATIO": str(self.dlq_max_ratio),
            "HCP_DLQ_MIN_MESSAGES": str(self.dlq_min_messages),
            "HCP_PSEUDONYM_KEY": self.pseudonym_key.decode("utf-8"),
            "HCP_HOLIDAY_CALENDAR": self.holiday_calendar,
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
            kafka_security_protocol=(environ.get("HCP_KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").strip().upper(),
            kafka_sasl_mechanism=(environ.get("HCP_KAFKA_SASL_MECHANISM") or "PLAIN").strip().upper(),
            kafka_sasl_username=environ.get("HCP_KAFKA_SASL_USERNAME", ""),
            kafka_sasl_password=environ.get("HCP_KAFKA_SASL_PASSWORD", ""),
            kafka_ssl_cafile=environ.get("HCP_KAFKA_SSL_CAFILE", ""),
            kafka_ssl_certfile=environ.get("HCP_KAFKA_SSL_CERTFILE", ""),
            kafka_ssl_keyfile=environ.get("HCP_KAFKA_SSL_KEYFILE", ""),
            clickhouse_url=environ.get("HCP_CLICKHOUSE_URL", ""),
            clickhouse_user=environ.get("HCP_CLICKHOUSE_USER", ""),
            clickhouse_password=environ.get("HCP_CLICKHOUSE_PASSWORD", ""),
            data_dir=data_dir,
            topic_prefix=environ.get("HCP_TOPIC_PREFIX", defaults.topic_prefix),
            partitions=number("HCP_PARTITIONS", defaults.partitions, int),
            portal_topics=_flag(environ, "HCP_PORTAL_TOPICS", defaults.portal_topics),
            consumer_group=environ.get("HCP_CONSUMER_GROUP") or defaults.consumer_group,
            batch_max=number("HCP_BATCH_MAX", defaults.batch_max, int),
            batch_seconds=number("HCP_BATCH_SECONDS", defaults.batch_seconds, float),
            web_port=number("HCP_WEB_PORT", defaults.web_port, int),
            timeline_retention_days=number("HCP_TIMELINE_RETENTION_DAYS", defaults.timeline_retention_days, int),
            timeline_sweep_seconds=number("HCP_TIMELINE_SWEEP_SECONDS", defaults.timeline_sweep_seconds, float),
            park_max_seconds=number("HCP_PARK_MAX_SECONDS", defaults.park_max_seconds, float),
            webhook_urls=tuple(url for url in environ.get("HCP_WEBHOOK_URLS", "").split(",") if url.strip()),
            webhook_secret=environ.get("HCP_WEBHOOK_SECRET", ""),
            webhook_max_attempts=number("HCP_WEBHOOK_MAX_ATTEMPTS", defaults.webhook_max_attempts, int),
            alert_window_seconds=number("HCP_ALERT_WINDOW_SECONDS", defaults.alert_window_seconds, int),
            alert_min_ratings=number("HCP_ALERT_MIN_RATINGS", defaults.alert_min_ratings, int),
            dlq_max_ratio=number("HCP_DLQ_MAX_RATIO", defaults.dlq_max_ratio, float),
            dlq_min_messages=number("HCP_DLQ_MIN_MESSAGES", defaults.dlq_min_messages, int),
            pseudonym_key=key.encode("utf-8") if key else _local_key(data_dir),
            holiday_calendar=(environ.get("HCP_HOLIDAY_CALENDAR") or defaults.holiday_calendar).strip().lower(),
        )


def _check_kafka_security(settings: Settings) -> None:
    """Refuse settings that would connect differently from what the operator meant; never quote a password."""
    protocol = settings.kafka_security_protocol
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise SettingsError(
            f"HCP_KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of {', '.join(KAFKA_SECURITY_PROTOCOLS)}"
        )
    if settings.kafka_sasl_mechanism not in KAFKA_SASL_MECHANISMS:
        raise SettingsError(
            f"HCP_KAFKA_SASL_MECHANISM={settings.kafka_sasl_mechanism!r} "
            f"is not one of {', '.join(KAFKA_SASL_MECHANISMS)}"
        )
    sasl, ssl = protocol.startswith("SASL_"), protocol.endswith("SSL")
    credentials = {
        "HCP_KAFKA_SASL_USERNAME": settings.kafka_sasl_username,
        "HCP_KAFKA_SASL_PASSWORD": settings.kafka_sasl_password,
    }
    for name, value in credentials.items():
        if sasl and not value:
            raise SettingsError(f"HCP_KAFKA_SECURITY_PROTOCOL={protocol} needs {name}, which is empty")
        if not sasl and value:
            raise SettingsError(
                f"{name} is set but HCP_KAFKA_SECURITY_PROTOCOL={protocol!r} does not use it: "
                "set HCP_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT or SASL_SSL, or unset it"
            )
    files = {
        "HCP_KAFKA_SSL_CAFILE": settings.kafka_ssl_cafile,
        "HCP_KAFKA_SSL_CERTFILE": settings.kafka_ssl_certfile,
        "HCP_KAFKA_SSL_KEYFILE": settings.kafka_ssl_keyfile,
    }
    for name, path in files.items():
        if not path:
            continue
        if not ssl:
            raise SettingsError(
                f"{name} is set but HCP_KAFKA_SECURITY_PROTOCOL={protocol!r} does not use TLS: "
                "set HCP_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, or unset it"
            )
        if not Path(path).is_file():
            raise SettingsError(f"{name}={path!r}: no such file")
    if settings.kafka_ssl_keyfile and not settings.kafka_ssl_certfile:
        raise SettingsError("HCP_KAFKA_SSL_KEYFILE is set without HCP_KAFKA_SSL_CERTFILE (the client certificate)")


def _check_clickhouse(settings: Settings) -> None:
    url = settings.clickhouse_url
    scheme = url.partition("://")[0] if "://" in url else ""
    if url and scheme not in ("chdb", "http", "https"):
        raise SettingsError(f"HCP_CLICKHOUSE_URL={redact_url(url)!r}: the scheme must be chdb, http or https")
    separate = [
        name
        for name, value in (
            ("HCP_CLICKHOUSE_USER", settings.clickhouse_user),
            ("HCP_CLICKHOUSE_PASSWORD", settings.clickhouse_password),
        )
        if value
    ]
    if scheme not in ("http", "https"):
        if separate:
            raise SettingsError(
                f"{' and '.join(separate)} apply to a ClickHouse server, but HCP_CLICKHOUSE_URL "
                f"is {redact_url(url)!r} (the embedded engine has no users): set an http(s) URL or unset them"
            )
        return
    parts = urlsplit(url)
    if "@" in url.partition("://")[2][len(parts.netloc) :]:
        raise SettingsError(
            "HCP_CLICKHOUSE_URL is not a valid URL: percent-encode / ? # @ in the user or password "
            "(%2F %3F %23 %40), or give them in HCP_CLICKHOUSE_USER and HCP_CLICKHOUSE_PASSWORD"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise SettingsError(f"HCP_CLICKHOUSE_URL={redact_url(url)!r}: the port is not a number") from None
    if settings.clickhouse_password and parts.password is not None:
        raise SettingsError(
            "the ClickHouse password is given twice, in HCP_CLICKHOUSE_URL and in HCP_CLICKHOUSE_PASSWORD: keep one"
        )
    if settings.clickhouse_user and parts.username and parts.username != settings.clickhouse_user:
        raise SettingsError(
            f"HCP_CLICKHOUSE_USER={settings.clickhouse_user!r} differs from the user in HCP_CLICKHOUSE_URL "
            f"({parts.username!r}): keep one"
        )


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a valid flag (use 1 or 0)")


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
