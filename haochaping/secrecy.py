"""Passwords never reach a log line, whichever library writes it.

kafka-python logs its whole configuration, SASL password included, and the raw bytes of
a SASL PLAIN login at DEBUG level; other libraries may do the same. The adapters register
each password they hand to a client with `hide_in_logs`; from then on every log record
of this process is created with those strings replaced by ***. A record is only rewritten
when it holds a secret, so the cost is one formatted message per record while any
secret is registered.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

MASK = "***"

_secrets: frozenset[str] = frozenset()
_lock = threading.Lock()
_installed = False


def hide_in_logs(*secrets: str) -> None:
    """Mask these strings (and their escaped forms inside a bytes repr) in every later log record."""
    global _secrets, _installed
    forms = {form for secret in secrets if secret for form in _forms(secret)}
    if not forms:
        return
    with _lock:
        _secrets = _secrets | forms
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                return _scrubbed(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            _installed = True


def scrub(text: str) -> str:
    """The text with every registered secret replaced by ***."""
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(secret, MASK)
    return text


def _forms(secret: str) -> set[str]:
    # As text, and as it appears inside a repr (a dict of options), a bytes repr (b'user\x00pass')
    # or JSON, where quotes, backslashes and non-ASCII characters are escaped.
    return {secret, repr(secret)[1:-1], repr(secret.encode("utf-8"))[2:-1], json.dumps(secret)[1:-1]} - {""}


def _scrubbed(record: logging.LogRecord) -> logging.LogRecord:
    secrets = _secrets
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: let logging report it as it would
        return record
    if any(secret in message for secret in secrets):
        record.msg, record.args = scrub(message), None
    if (
        record.exc_info
        and record.exc_info[1] is not None
        and any(secret in str(record.exc_info[1]) for secret in secrets)
    ):
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    return record
