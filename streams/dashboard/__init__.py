"""The analysts' page: one HTML file with its CSS, script and (for reports) data inlined.

Served live by the worker (streams/web.py) and written by `hcp report --html`; it needs
no network to view: charts are inline SVG drawn by dashboard.js.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

DEFAULT_TITLE = "好差评溯源 · 流程再造看板"


def _asset(name: str) -> str:
    return resources.files("streams.dashboard").joinpath(name).read_text(encoding="utf-8")


def render_page(
    payload: dict[str, Any] | None,
    live_url: str = "",
    refresh_seconds: int = 15,
    title: str = DEFAULT_TITLE,
) -> str:
    """The page; `payload` is embedded (a report), `live_url` is polled (the dashboard), or both."""
    # "</" would end the script element early; JSON allows it escaped.
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    replacements = {
        "{{title}}": html.escape(title),
        "{{live_url}}": html.escape(live_url, quote=True),
        "{{refresh_seconds}}": str(int(refresh_seconds)),
        "{{css}}": _asset("dashboard.css"),
        "{{js}}": _asset("dashboard.js").replace("</", "<\\/"),
        "{{data}}": data,
    }
    page = _asset("page.html")
    for marker in ("{{title}}", "{{live_url}}", "{{refresh_seconds}}", "{{css}}", "{{js}}"):
        page = page.replace(marker, replacements[marker])
    # The data last, so nothing inside it is ever taken for a marker.
    return page.replace("{{data}}", replacements["{{data}}"])
