"""Plain-text tables for the terminal that line up with Chinese (double-width) characters."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap


def format_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [display_width(header) for header in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], display_width(cell))
    numeric = [all(isinstance(row[i], int | float) for row in rows) if rows else False for i in range(len(headers))]
    lines = [title, "  ".join(_pad(h, w, n) for h, w, n in zip(headers, widths, numeric, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    for row in cells:
        lines.append("  ".join(_pad(c, w, n) for c, w, n in zip(row, widths, numeric, strict=True)))
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
