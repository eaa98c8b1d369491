"""Kafka SASL/TLS and ClickHouse credentials: parsed and checked from the environment, mapped to
kafka-python and Faust, and never shown: not in repr, error messages, log lines or `hcp` output.

`to_env` is for child processes (`hcp worker`), so it does carry the secrets.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from haochaping.settings import Settings, SettingsError, redact_url

KAFKA_PASSWORD = "kafka-pw-Zq81"
CLICKHOUSE_PASSWORD = "ch-pw-Xt27"
SECRETS = (KAFKA_PASSWORD, CLICKHOUSE_PASSWORD, "webhook-key-9", "pseudonym-key-4")
SASL = {
    "HCP_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
    "HCP_KAFKA_SASL_MECHANISM": "scram-sha-512",
    "HCP_KAFKA_SASL_USERNAME": "hcp-portal",
    "HCP_KAFKA_SASL_PASSWORD": KAFKA_PASSWORD,
}


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"HCP_DATA_DIR": str(tmp_path), "HCP_PSEUDONYM_KEY": "pseudonym-key-4", **values}


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.fixture(scope="module")
def client_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate and its key (PEM), as for mutual TLS."""
    # Debian's base system has openssl; if it is missing the run must fail, not skip.
    assert shutil.which("openssl") is not None, "openssl is needed to make a test certificate (apt-get install openssl)"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "client.pem", folder / "client.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hcp-test"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture(scope="module")
def ca_file() -> str:
    import certifi

    return str(certifi.where())


# -- parsing and validation -------------------------------------------------------------------


def test_sasl_settings_are_read_and_normalised(tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path, **SASL))
    assert settings.kafka_security_protocol == "SASL_PLAINTEXT"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert (settings.kafka_sasl_username, settings.kafka_sasl_password) == ("hcp-portal", KAFKA_PASSWORD)


def test_defaults_are_plaintext_without_credentials(tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path))
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("PLAINTEXT", "PLAIN")


def test_every_security_setting_round_trips_to_a_child(tmp_path: Path, ca_file: str) -> None:
    settings = Settings.from_env(
        _env(
            tmp_path,
            **{**SASL, "HCP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "HCP_KAFKA_SSL_CAFILE": ca_file},
            HCP_CLICKHOUSE_URL="https://ch.example:8443/hcp",
            HCP_CLICKHOUSE_USER="writer",
            HCP_CLICKHOUSE_PASSWORD=CLICKHOUSE_PASSWORD,
        )
    )
    env = settings.to_env()
    assert env["HCP_KAFKA_SASL_PASSWORD"] == KAFKA_PASSWORD  # the child needs it
    assert env["HCP_CLICKHOUSE_PASSWORD"] == CLICKHOUSE_PASSWORD
    assert Settings.from_env(env) == settings


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"HCP_KAFKA_SECURITY_PROTOCOL": "TLS"}, "HCP_KAFKA_SECURITY_PROTOCOL='TLS' is not one of PLAINTEXT, SSL"),
        ({**SASL, "HCP_KAFKA_SASL_MECHANISM": "GSSAPI"}, "HCP_KAFKA_SASL_MECHANISM='GSSAPI' is not one of PLAIN"),
        ({**SASL, "HCP_KAFKA_SASL_USERNAME": ""}, "SASL_PLAINTEXT needs HCP_KAFKA_SASL_USERNAME, which is empty"),
        ({**SASL, "HCP_KAFKA_SASL_PASSWORD": ""}, "SASL_PLAINTEXT needs HCP_KAFKA_SASL_PASSWORD, which is empty"),
        (
            {"HCP_KAFKA_SASL_PASSWORD": KAFKA_PASSWORD},
            "HCP_KAFKA_SASL_PASSWORD is set but HCP_KAFKA_SECURITY_PROTOCOL='PLAINTEXT' does not use it",
        ),
        (
            {**SASL, "HCP_KAFKA_SSL_CAFILE": "/etc/hostname"},
            "HCP_KAFKA_SSL_CAFILE is set but HCP_KAFKA_SECURITY_PROTOCOL='SASL_PLAINTEXT' does not use TLS",
        ),
        (
            {"HCP_KAFKA_SECURITY_PROTOCOL": "SSL", "HCP_KAFKA_SSL_CAFILE": "/nowhere/ca.pem"},
            "HCP_KAFKA_SSL_CAFILE='/nowhere/ca.pem': no such file",
        ),
        (
            {"HCP_KAFKA_SECURITY_PROTOCOL": "SSL", "HCP_KAFKA_SSL_KEYFILE": "/etc/hostname"},
            "HCP_KAFKA_SSL_KEYFILE is set without HCP_KAFKA_SSL_CERTFILE",
        ),
        ({"HCP_CLICKHOUSE_URL": "ftp://ch.example/db"}, "the scheme must be chdb, http or https"),
        (
            {"HCP_CLICKHOUSE_URL": f"http://writer:{CLICKHOUSE_PASSWORD}@ch.example:eighty/db"},
            "HCP_CLICKHOUSE_URL='http://writer:\\*\\*\\*@ch.example:eighty/db': the port is not a number",
        ),
        (
            {"HCP_CLICKHOUSE_URL": "http://writer:pa/ss@ch.example/db"},
            "percent-encode / \\? # @ in the user or password",
        ),
        (
            {
                "HCP_CLICKHOUSE_URL": f"http://writer:{CLICKHOUSE_PASSWORD}@ch.example/db",
                "HCP_CLICKHOUSE_PASSWORD": CLICKHOUSE_PASSWORD,
            },
            "the ClickHouse password is given twice",
        ),
        (
            {"HCP_CLICKHOUSE_URL": "http://writer@ch.example/db", "HCP_CLICKHOUSE_USER": "reader"},
            "HCP_CLICKHOUSE_USER='reader' differs from the user in HCP_CLICKHOUSE_URL \\('writer'\\)",
        ),
        ({"HCP_CLICKHOUSE_PASSWORD": CLICKHOUSE_PASSWORD}, "HCP_CLICKHOUSE_PASSWORD apply to a ClickHouse server"),
    ],
)
def test_invalid_security_settings_name_the_variable_but_never_the_password(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_env(_env(tmp_path, **values))
    assert _leaks(str(raised.value)) == []


def test_settings_errors_reach_the_terminal_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    monkeypatch.setenv("HCP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HCP_KAFKA_SASL_PASSWORD", KAFKA_PASSWORD)  # but no SASL protocol
    with pytest.raises(SystemExit) as exited:
        main(["summary"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "HCP_KAFKA_SASL_PASSWORD is set" in err and KAFKA_PASSWORD not in err


# -- ClickHouse URL and credentials -----------------------------------------------------------


def test_clickhouse_user_and_password_are_folded_into_the_url_encoded(tmp_path: Path) -> None:
    settings = Settings.from_env(
        _env(
            tmp_path,
            HCP_CLICKHOUSE_URL="https://ch.example:8443/hcp",
            HCP_CLICKHOUSE_USER="writer",
            HCP_CLICKHOUSE_PASSWORD="p@ss/w:rd#1",
        )
    )
    assert settings.clickhouse == "https://writer:p%40ss%2Fw%3Ard%231@ch.example:8443/hcp"
    assert redact_url(settings.clickhouse) == "https://writer:***@ch.example:8443/hcp"
    only_password = settings.with_changes(clickhouse_url="http://reader@ch.example/hcp", clickhouse_user="")
    assert only_password.clickhouse == "http://reader:p%40ss%2Fw%3Ard%231@ch.example/hcp"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://writer:secret@ch.example:8123/db", "http://writer:***@ch.example:8123/db"),
        ("https://writer@ch.example/db", "https://writer@ch.example/db"),
        ("http://ch.example:8123/db", "http://ch.example:8123/db"),
        ("chdb:///var/lib/hcp/clickhouse", "chdb:///var/lib/hcp/clickhouse"),
        ("http://writer:se@cret@ch.example/db", "http://writer:***@ch.example/db"),  # unencoded @
        ("http://writer:se/cret@ch.example/db", "http://***@ch.example/db"),  # unencoded /
        ("http://writer:se#cret@ch.example/db", "http://***@ch.example/db"),
        ("http://[::1]:8123/db", "http://[::1]:8123/db"),
        ("", ""),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_connection_errors_show_the_url_without_its_password() -> None:
    from sinks.clickhouse import ClickHouseUnavailable, connect

    with pytest.raises(ClickHouseUnavailable) as raised:
        connect(f"http://writer:{CLICKHOUSE_PASSWORD}@127.0.0.1:9/db")  # discard port: refused at once
    message = str(raised.value)
    assert "http://writer:***@127.0.0.1:9/db" in message and CLICKHOUSE_PASSWORD not in message
    assert raised.value.__cause__ is None  # the driver's own error is not chained (it may quote the request)


# -- never shown in repr or logs --------------------------------------------------------------


def test_repr_holds_no_secret(tmp_path: Path) -> None:
    settings = Settings.from_env(
        _env(
            tmp_path,
            **SASL,
            HCP_CLICKHOUSE_URL=f"http://writer:{CLICKHOUSE_PASSWORD}@ch.example:8123/hcp",
            HCP_WEBHOOK_URLS="https://alerts:webhook-key-9@hooks.example/hcp",
            HCP_WEBHOOK_SECRET="webhook-key-9",
        )
    )
    shown = repr(settings)
    assert _leaks(shown) == [], shown
    assert "clickhouse_url='http://writer:***@ch.example:8123/hcp'" in shown
    assert "kafka_sasl_username='hcp-portal'" in shown and "kafka_security_protocol='SASL_PLAINTEXT'" in shown
    assert _leaks(f"{settings}") == [] and _leaks(str([settings])) == []


def test_worker_start_line_names_the_security_but_not_the_password(tmp_path: Path) -> None:
    from producers.security import describe_security

    settings = Settings.from_env(_env(tmp_path, **SASL))
    assert describe_security(settings) == "SASL_PLAINTEXT/SCRAM-SHA-512 as user 'hcp-portal'"
    assert describe_security(Settings()) == "PLAINTEXT"


def test_a_refused_login_is_reported_clearly_and_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError

    from producers.security import KafkaAuthenticationError, kafka_client

    settings = Settings.from_env(_env(tmp_path, **SASL))
    seen: dict[str, object] = {}

    def refusing_client(**options: object) -> object:
        # What kafka-python does on a wrong password: logs each refused attempt, then times out.
        seen.update(options)
        refusal = SaslAuthenticationFailedError("Authentication failed: Invalid username or password")
        logging.getLogger("kafka.net.manager").warning("Bootstrap connection to %s failed: %s", "bootstrap-0", refusal)
        raise KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:9094")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(KafkaAuthenticationError) as raised:
        kafka_client(refusing_client, settings, client_id="hcp-test")
    message = str(raised.value)
    assert "refused the connection (SASL_PLAINTEXT/SCRAM-SHA-512 as user 'hcp-portal')" in message
    assert "Invalid username or password" in message and "HCP_KAFKA_SASL_PASSWORD" in message
    assert KAFKA_PASSWORD not in message and _leaks(caplog.text) == []
    assert seen["sasl_plain_password"] == KAFKA_PASSWORD and seen["client_id"] == "hcp-test"
    assert not [h for h in logging.getLogger("kafka").handlers if type(h).__name__ == "_RefusalWatcher"]  # removed


def test_other_kafka_errors_pass_through_unchanged(tmp_path: Path) -> None:
    from kafka.errors import KafkaTimeoutError

    from producers.security import kafka_client

    def unreachable(**options: object) -> object:
        raise KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:9")

    with pytest.raises(KafkaTimeoutError):
        kafka_client(unreachable, Settings.from_env(_env(tmp_path, **SASL)))


# -- mapping to kafka-python and Faust ----------------------------------------------------------


def test_kafka_python_options(tmp_path: Path, ca_file: str, client_certificate: tuple[str, str]) -> None:
    from producers.topics import kafka_security

    assert kafka_security(Settings()) == {}
    assert kafka_security(Settings.from_env(_env(tmp_path, **SASL))) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "hcp-portal",
        "sasl_plain_password": KAFKA_PASSWORD,
    }
    cert, key = client_certificate
    mutual = Settings.from_env(
        _env(
            tmp_path,
            HCP_KAFKA_SECURITY_PROTOCOL="SSL",
            HCP_KAFKA_SSL_CAFILE=ca_file,
            HCP_KAFKA_SSL_CERTFILE=cert,
            HCP_KAFKA_SSL_KEYFILE=key,
        )
    )
    assert kafka_security(mutual) == {
        "security_protocol": "SSL",
        "ssl_check_hostname": True,
        "ssl_cafile": ca_file,
        "ssl_certfile": cert,
        "ssl_keyfile": key,
    }
    sasl_ssl = kafka_security(Settings.from_env(_env(tmp_path, **{**SASL, "HCP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})))
    assert sasl_ssl["security_protocol"] == "SASL_SSL" and sasl_ssl["ssl_cafile"] is None  # the system's CAs
    assert sasl_ssl["sasl_plain_username"] == "hcp-portal"


def test_faust_broker_credentials(tmp_path: Path, ca_file: str, client_certificate: tuple[str, str]) -> None:
    import ssl

    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.app import broker_credentials, create_app

    assert broker_credentials(Settings()) is None

    sasl = Settings.from_env(_env(tmp_path, **SASL))
    credentials = broker_credentials(sasl)
    assert isinstance(credentials, faust.SASLCredentials)
    assert KAFKA_PASSWORD not in repr(credentials)
    app = create_app(sasl)
    assert app.conf.broker_credentials is not None
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)  # what the worker's aiokafka clients get
    assert auth == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "hcp-portal",
        "sasl_plain_password": KAFKA_PASSWORD,
        "ssl_context": None,
    }

    sasl_ssl = sasl.with_changes(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=ca_file)
    auth = credentials_to_aiokafka_auth(broker_credentials(sasl_ssl))
    assert auth["security_protocol"] == "SASL_SSL" and isinstance(auth["ssl_context"], ssl.SSLContext)
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED and auth["ssl_context"].check_hostname

    cert, key = client_certificate
    tls = Settings(
        kafka_security_protocol="SSL", kafka_ssl_cafile=ca_file, kafka_ssl_certfile=cert, kafka_ssl_keyfile=key
    )
    credentials = broker_credentials(tls)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(credentials)["security_protocol"] == "SSL"


def test_registered_passwords_are_masked_in_every_log_record(caplog: pytest.LogCaptureFixture) -> None:
    from haochaping.secrecy import hide_in_logs

    secret = "log-pw-'q\\7é"  # quotes, a backslash and non-ASCII: escaped differently inside bytes reprs
    hide_in_logs(secret)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="kafka")  # `hcp` (cli.main) quiets it to WARNING
    log = logging.getLogger("kafka.admin.client")
    # What kafka-python 3 logs at DEBUG: its configuration, and the bytes of a SASL PLAIN login.
    log.debug("Starting KafkaAdminClient with configuration: %s", {"sasl_plain_password": secret})
    log.debug("Request 3: SaslAuthenticateRequest(auth_bytes=%r)", b"hcp\x00hcp\x00" + secret.encode())
    logging.getLogger("any.library").warning("connecting with %s", secret)
    try:
        raise RuntimeError(f"login {secret} failed")
    except RuntimeError:
        logging.getLogger("sinks").exception("failed")
    assert len(caplog.records) == 4
    assert "log-pw-" not in caplog.text, caplog.text  # in no form: plain, repr, bytes repr
    assert caplog.text.count("***") >= 4
    assert "login *** failed" in caplog.text  # the traceback is kept, masked
