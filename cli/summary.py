"""`hcp summary`: what has arrived in ClickHouse, by province, matter and step, and the dead letters."""

from __future__ import annotations

import argparse

from cli import Subcommands
from cli.tables import format_table
from haochaping.codes import PROVINCES, REASON_LABELS, STEP_LABELS
from haochaping.settings import Settings


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "summary",
        help="print what arrived in ClickHouse (counts by province, matter, step; dead letters)",
        description="Counts of stored ratings and case events by province, matter and step, and the "
        "dead-letter count with its commonest reasons. In embedded mode the worker must not be running "
        "(it owns the ClickHouse directory).",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    print(render_summary(settings))
    return 0


def render_summary(settings: Settings) -> str:
    from haochaping.catalog import default_catalog
    from sinks import queries
    from sinks.clickhouse import open_clickhouse

    catalog = default_catalog()
    with open_clickhouse(settings.clickhouse, owner="hcp summary") as client:
        totals = queries.run(client, queries.TOTALS).rows[0]
        by_province = queries.run(client, queries.RATINGS_BY_PROVINCE).rows
        by_matter = queries.run(client, queries.RATINGS_BY_MATTER).rows
        by_step = queries.run(client, queries.CASE_EVENTS_BY_STEP).rows
        by_attributed_step = queries.run(client, queries.NEGATIVES_BY_ATTRIBUTED_STEP).rows
        dead = queries.run(client, queries.DEAD_LETTERS_BY_REASON).rows
    parts = [
        f"ClickHouse holds {totals[0]:,} ratings, {totals[1]:,} case events and {totals[2]:,} dead letters; "
        f"{totals[3]:,} negative ratings are traced to a step.",
        format_table(
            "\n按省份 — ratings by province",
            ["省份", "code", "ratings", "差评", "差评%"],
            [(PROVINCES.get(str(p), "?"), p, n, neg, pct) for p, n, neg, pct in by_province],
        ),
        format_table(
            "\n按事项 — ratings by matter",
            ["事项", "code", "ratings", "差评", "差评%"],
            [(catalog.matter_name(str(m)), m, n, neg, pct) for m, n, neg, pct in by_matter],
        ),
        format_table(
            "\n按环节 — case events by step",
            ["环节", "step", "events", "cases", "退回补正", "核验失败"],
            [(STEP_LABELS.get(str(s), "?"), s, n, c, r, f) for s, n, c, r, f in by_step],
        ),
        format_table(
            "\n差评溯源 — negative ratings by the step they are traced to",
            ["环节", "step", "差评", "weight", "主要原因", "责任省份"],
            [
                (STEP_LABELS.get(str(s), "?"), s, n, w, REASON_LABELS.get(str(r), r), PROVINCES.get(str(p), p))
                for s, n, w, r, p in by_attributed_step
            ],
        ),
        format_table("\n死信 — dead letters by reason", ["reason", "messages"], dead),
    ]
    return "\n".join(parts)
