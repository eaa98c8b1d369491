"""Kafka security for the kafka-python clients: SASL (PLAIN, SCRAM) and TLS from Settings.

`kafka_security` maps the settings to kafka-python's options; `kafka_client` builds a
client with them and, when the broker refuses the login, raises KafkaAuthenticationError
naming the user, protocol and mechanism instead of kafka-python's bare "Unable to
bootstrap" after its timeout. No message here ever holds the password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from kafka.errors import (
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailedError,
    UnsupportedSaslMechanismError,
)

from haochaping.secrecy import hide_in_logs
from haochaping.settings import Settings

T = TypeVar("T")

# kafka-python retries a refused login until its bootstrap timeout (30 s by default);
# that bounds how long a wrong password takes to be reported.
BOOTSTRAP_TIMEOUT_MS = 30_000


# kafka-python ships no type hints, so mypy sees KafkaError as Any (hence the ignore); this stays a
# KafkaError so that `except KafkaError` (producers/lag.py, bench/pipeline.py) catches a refused login too.
class KafkaAuthenticationError(KafkaError):  # type: ignore[misc]
    """The broker answered but refused the credentials or the TLS handshake."""

    retriable = False


def kafka_security(settings: Settings) -> dict[str, Any]:
    """Security options for kafka-python clients (KafkaProducer, KafkaConsumer, KafkaAdminClient)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    if protocol.endswith("SSL"):
        options.update(
            ssl_check_hostname=True,
            ssl_cafile=settings.kafka_ssl_cafile or None,
            ssl_certfile=settings.kafka_ssl_certfile or None,
            ssl_keyfile=settings.kafka_ssl_keyfile or None,
        )
    return options


def describe_security(settings: Settings) -> str:
    """How clients authenticate, for messages: never the password."""
    protocol = settings.kafka_security_protocol
    if not protocol.startswith("SASL_"):
        return protocol
    return f"{protocol}/{settings.kafka_sasl_mechanism} as user {settings.kafka_sasl_username!r}"


def kafka_client(factory: Callable[..., T], settings: Settings, *args: Any, **options: Any) -> T:
    """`factory(*args, bootstrap_servers=…, <security>, **options)`; a refused login says so clearly."""
    hide_in_logs(settings.kafka_sasl_password)  # kafka-python logs it at DEBUG (configuration, SASL PLAIN bytes)
    watcher = _RefusalWatcher()
    kafka_log = logging.getLogger("kafka")
    kafka_log.addHandler(watcher)
    try:
        return factory(
            *args,
            bootstrap_servers=settings.kafka_bootstrap,
            **{"bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS, **kafka_security(settings), **options},
        )
    except KafkaError as error:
        reason = watcher.refusal
        if reason is None and watcher.dropped and settings.kafka_security_protocol.startswith("SASL_"):
            # The broker sends its "Invalid username or password" and closes the connection;
            # kafka-python often sees only the close.
            reason = (
                "it closed the connection during the SASL login, which is how it turns down a wrong user or password"
            )
        if reason is None:
            raise
        raise KafkaAuthenticationError(
            f"Kafka at {settings.kafka_bootstrap} refused the connection ({describe_security(settings)}): "
            f"{reason}. Check HCP_KAFKA_SECURITY_PROTOCOL, HCP_KAFKA_SASL_MECHANISM, "
            "HCP_KAFKA_SASL_USERNAME and HCP_KAFKA_SASL_PASSWORD (and the HCP_KAFKA_SSL_* files)"
        ) from error
    finally:
        kafka_log.removeHandler(watcher)


class _RefusalWatcher(logging.Handler):
    """Notices, in kafka-python's own log records, that the broker refused the login or the TLS handshake.

    kafka-python logs each failed bootstrap attempt with the exception as an argument, then
    gives up with a timeout that no longer says why.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.refusal: str | None = None
        self.dropped = False  # the broker accepted a connection, then closed it before it was ready

    def emit(self, record: logging.LogRecord) -> None:
        arguments = record.args if isinstance(record.args, tuple) else ()
        for argument in arguments:
            if isinstance(
                argument, (SaslAuthenticationFailedError, UnsupportedSaslMechanismError, IllegalSaslStateError)
            ):
                self.refusal = _short(argument)
            elif isinstance(argument, KafkaConnectionError) and "Handshake failed" in str(argument):
                self.refusal = f"TLS handshake failed ({_short(argument)})"
            elif isinstance(argument, KafkaConnectionError) and "socket disconnected" in str(argument):
                self.dropped = True


def _short(error: BaseException) -> str:
    """'Authentication failed: Invalid username or password' out of kafka-python's nested wording."""
    return str(error).split("Error: ")[-1]
