"""Entry point of `hcp`: parses arguments, reads Settings from the environment, dispatches.

Subcommands live in their own modules; this file only wires them together.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from cli import Subcommands, backtest, contracts, demo, dlq, publish, report, simulate, sql, summary, trace, worker
from haochaping.settings import Settings, SettingsError

SUBCOMMANDS = (worker, publish, simulate, trace, backtest, summary, report, sql, dlq, contracts, demo)

ENVIRONMENT_HELP = """\
settings (environment):
  HCP_KAFKA_BOOTSTRAP   Kafka bootstrap servers (default 127.0.0.1:9092)
  HCP_KAFKA_SECURITY_PROTOCOL  PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
  HCP_KAFKA_SASL_MECHANISM  PLAIN (default), SCRAM-SHA-256 or SCRAM-SHA-512
  HCP_KAFKA_SASL_USERNAME, HCP_KAFKA_SASL_PASSWORD  SASL credentials
  HCP_KAFKA_SSL_CAFILE  CA certificates (PEM; default: the system's);
                        HCP_KAFKA_SSL_CERTFILE, HCP_KAFKA_SSL_KEYFILE for mutual TLS
  HCP_CLICKHOUSE_URL    chdb:///dir (embedded, default data/clickhouse) or
                        http(s)://user:password@host:8123/database (a server)
  HCP_CLICKHOUSE_USER, HCP_CLICKHOUSE_PASSWORD  server credentials, instead of
                        in the URL. Passwords are never logged or printed.
  HCP_DATA_DIR          data folder (default ./data)
  HCP_TOPIC_PREFIX      prefix of every topic name (default "hcp.")
  HCP_PARTITIONS        partitions of the ratings and case-event topics (default 4)
  HCP_TIMELINE_RETENTION_DAYS  days a case timeline is kept after its last
                        event (default 30)
  HCP_PARK_MAX_SECONDS  longest wait of a rating read before its case's events
                        (default 300); then it is traced with what is known
  HCP_WEBHOOK_URLS      comma-separated URLs that receive every alert (POST, JSON)
  HCP_WEBHOOK_SECRET    key of the X-HCP-Signature HMAC-SHA256 header
  HCP_WEBHOOK_MAX_ATTEMPTS  deliveries tried before an alert is dead-lettered (5)
  HCP_ALERT_WINDOW_SECONDS  detector window (default 6 h); HCP_ALERT_MIN_RATINGS
  HCP_DLQ_MAX_RATIO     stop the worker when more than this share of recent
                        messages is invalid (default 0.5, over at least
                        HCP_DLQ_MIN_MESSAGES=1000 messages)
  HCP_PSEUDONYM_KEY     key for pseudonymising rater ids (default: a random key
                        kept in the data folder)
  HCP_HOLIDAY_CALENDAR  official (default): working days skip the official
                        holidays and count 调休 weekends (chinese-calendar);
                        none: Mon-Fri only
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hcp",
        description="好差评 tracing: trace negative government-service reviews to the step and office responsible.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands: Subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("kafka", "aiokafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as error:
        parser.error(str(error))
    try:
        return int(args.run(args, settings) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
