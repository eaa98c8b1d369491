"""Alert delivery to webhooks: HTTP POST of the alert JSON, signed, retried, never blocking the stream.

Each alert is queued; a background task posts it to every configured URL with an
`X-HCP-Signature: sha256=<hex HMAC of the body>` header, retries with exponential
back-off, and after the last failed attempt hands it to `on_give_up` (the dead-letter topic).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-HCP-Signature"
QUEUE_LIMIT = 10_000


def shown(url: str) -> str:
    """The URL for logs and dead-letter reasons: no user, password or query (webhook tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "…" if parts.query else "", ""))


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


GiveUp = Callable[[str, bytes, str], Awaitable[None]]  # (url, body, reason)


class WebhookSender:
    def __init__(
        self,
        urls: Sequence[str],
        secret: str,
        max_attempts: int,
        on_give_up: GiveUp,
        first_backoff: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self._urls = list(urls)
        self._secret = secret
        self._max_attempts = max(1, max_attempts)
        self._on_give_up = on_give_up
        self._first_backoff = first_backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE_LIMIT)

    @property
    def enabled(self) -> bool:
        return bool(self._urls)

    def submit(self, alert: dict[str, Any]) -> None:
        """Queue an alert for every URL; drops (and logs) rather than block when the queue is full."""
        body = json.dumps(alert, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        for url in self._urls:
            try:
                self._queue.put_nowait((url, body))
            except asyncio.QueueFull:
                log.error("webhook queue full: alert %s not delivered to %s", alert.get("alert_id"), shown(url))

    async def run(self) -> None:
        """Deliver queued alerts until cancelled."""
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            while True:
                url, body = await self._queue.get()
                await self._deliver(session, url, body)

    async def _deliver(self, session: aiohttp.ClientSession, url: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        backoff = self._first_backoff
        problem = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    if 200 <= response.status < 300:
                        return
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                problem = f"{type(error).__name__}: {error}"
            if attempt < self._max_attempts:
                log.warning(
                    "webhook %s failed (%s), attempt %d of %d", shown(url), problem, attempt, self._max_attempts
                )
                await asyncio.sleep(backoff)
                backoff *= 2
        reason = f"webhook {shown(url)} failed {self._max_attempts} times, last: {problem}"
        log.error("%s; dead-lettering the alert", reason)
        await self._on_give_up(url, body, reason)
