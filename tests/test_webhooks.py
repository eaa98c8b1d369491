"""Webhook delivery against a real local HTTP server: signed bodies, retries, dead-lettering."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

from aiohttp import web

from sinks.webhooks import SIGNATURE_HEADER, WebhookSender, shown, sign


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"alert_id":"a1"}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign(body, "s3cret") == f"sha256={expected}"


async def _serve(statuses: list[int], received: list[tuple[bytes, str]]) -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers.get(SIGNATURE_HEADER, "")))
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook"


def test_delivery_retries_then_succeeds() -> None:
    async def scenario() -> tuple[list[tuple[bytes, str]], list[str]]:
        received: list[tuple[bytes, str]] = []
        given_up: list[str] = []

        async def give_up(url: str, body: bytes, reason: str) -> None:
            given_up.append(reason)

        runner, url = await _serve([500, 503], received)
        sender = WebhookSender([url], "s3cret", max_attempts=5, on_give_up=give_up, first_backoff=0.01)
        task = asyncio.create_task(sender.run())
        sender.submit({"alert_id": "a1", "state": "firing"})
        for _ in range(200):
            if len(received) == 3:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await runner.cleanup()
        return received, given_up

    received, given_up = asyncio.run(scenario())
    body = json.dumps({"alert_id": "a1", "state": "firing"}, separators=(",", ":")).encode()
    assert received == [(body, sign(body, "s3cret"))] * 3
    assert given_up == []


def test_delivery_gives_up_after_max_attempts() -> None:
    async def scenario() -> tuple[int, list[tuple[str, bytes, str]]]:
        received: list[tuple[bytes, str]] = []
        given_up: list[tuple[str, bytes, str]] = []

        async def give_up(url: str, body: bytes, reason: str) -> None:
            given_up.append((url, body, reason))

        runner, url = await _serve([500] * 10, received)
        sender = WebhookSender([url], "", max_attempts=3, on_give_up=give_up, first_backoff=0.01)
        task = asyncio.create_task(sender.run())
        sender.submit({"alert_id": "a2"})
        for _ in range(300):
            if given_up:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await runner.cleanup()
        return len(received), given_up

    attempts, given_up = asyncio.run(scenario())
    assert attempts == 3
    assert len(given_up) == 1
    assert given_up[0][1] == b'{"alert_id":"a2"}'
    assert given_up[0][2].endswith("failed 3 times, last: HTTP 500")


def test_logs_and_reasons_show_webhook_urls_without_credentials_or_tokens() -> None:
    assert shown("https://bot:pa55@hooks.example.cn:8443/robot/send?access_token=abc123") == (
        "https://hooks.example.cn:8443/robot/send?…"
    )
    assert shown("http://127.0.0.1:9000/alerts") == "http://127.0.0.1:9000/alerts"
