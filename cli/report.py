"""`hcp report`: the analysts' questions as readable tables, or as a self-contained HTML page.

Runs the named queries of sinks/analytics.py through cli/sql.py's reader (the running worker,
the embedded directory, or a server); docs/analysts.md has a cookbook of every view.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli import Subcommands
from haochaping.settings import Settings

if TYPE_CHECKING:  # sinks is imported when a report runs, not when `hcp` starts
    from sinks.analytics import Runner
    from sinks.reports import Filters, Period

VIEWS = ("priorities", "compare", "reducible", "handoffs", "trend", "alerts", "heatmap", "check")


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "report",
        help="redesign priorities and the other analyst views (tables, JSON or an HTML page)",
        description="Print one analyst view as tables with Chinese names. The default period is the 7 days "
        "ending at the newest rating stored; --since/--until take a date (Beijing midnight) or a time. "
        "Complaint rate of a step = weighted negatives attributed to it / ratings of cases that went through it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="views:\n"
        "  priorities  rank (province, matter, mode, step) by excess complaints against other provinces\n"
        "              and the step's own history, with top reasons and sample comments (default)\n"
        "  compare     对标: one matter and step, every province (needs --matter, --step)\n"
        "  reducible   可精简的环节: steps whose complaints are mostly repeat materials, data not shared,\n"
        "              e-certificates not recognised or multiple trips\n"
        "  handoffs    TRANSFER and DATA_SHARE problems by province pair\n"
        "  trend       a step's complaint rate over time with its alerts (needs --step)\n"
        "  alerts      alerts of the spike detector in the period\n"
        "  heatmap     province × step complaint rates\n"
        "  check       aggregates against a recomputation from the raw tables (exit 1 if they differ)\n"
        "examples:\n"
        "  hcp report\n"
        "  hcp report --province 340000 --since 2026-11-20 --until 2026-11-27\n"
        "  hcp report compare --matter HCP-YB-JYBA --step DATA_SHARE\n"
        "  hcp report trend --province 340000 --matter HCP-YB-JYBA --step DATA_SHARE\n"
        "  hcp report --html report.html",
    )
    parser.add_argument(
        "view", nargs="?", choices=VIEWS, default="priorities", help="what to show (default priorities)"
    )
    parser.add_argument("--province", default="", help="province code, e.g. 340000")
    parser.add_argument("--matter", default="", help="matter code, e.g. HCP-YB-JYBA")
    parser.add_argument("--mode", default="", choices=("", "online", "proxy", "joint", "local"), help="handling mode")
    parser.add_argument("--step", default="", help="step kind, e.g. DATA_SHARE")
    parser.add_argument("--since", help="start of the period: 2026-11-20 (Beijing midnight) or an RFC 3339 time")
    parser.add_argument("--until", help="end of the period (exclusive)")
    parser.add_argument("--days", type=float, default=7.0, help="length of the period when --since is missing (7)")
    parser.add_argument("--history-days", type=float, default=28.0, help="history window before the period (28)")
    parser.add_argument("--limit", type=int, default=20, help="rows at most (20)")
    parser.add_argument("--min-ratings", type=int, default=30, help="ratings a benchmark needs to count (30)")
    parser.add_argument("--json", action="store_true", help="print JSON records instead of tables")
    parser.add_argument("--html", metavar="FILE", help="write a self-contained page with charts (all views) to FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from cli.sql import QueryFailed, ReaderUnavailable, open_reader
    from sinks import reports

    try:
        since = reports.parse_moment(args.since) if args.since else None
        until = reports.parse_moment(args.until) if args.until else None
    except ValueError as error:
        print(f"hcp report: {error}", file=sys.stderr)
        return 2
    filters = reports.Filters(
        province=args.province,
        matter=args.matter,
        mode=args.mode,
        step=args.step.upper(),
        limit=args.limit,
        min_ratings=args.min_ratings,
    )
    try:
        with open_reader(settings, owner="hcp report") as (runner, route):
            period = reports.resolve_period(runner, since, until, args.days, args.history_days)
            if args.html:
                return _write_html(runner, period, filters, Path(args.html))
            rows = _fetch(args.view, runner, period, filters)
    except (ReaderUnavailable, QueryFailed, ValueError) as error:
        print(f"hcp report: {error}", file=sys.stderr)
        return 1
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    else:
        print(render(args.view, rows, period.describe(), route))
    return 1 if args.view == "check" and rows else 0


def _fetch(view: str, runner: Runner, period: Period, filters: Filters) -> list[dict[str, Any]]:
    from sinks import reports

    if view == "priorities":
        return reports.priorities(runner, period, filters)
    if view == "compare":
        return reports.comparison(runner, period, filters)
    if view == "reducible":
        return reports.reducible(runner, period, filters)
    if view == "handoffs":
        return reports.handoffs(runner, period, filters)
    if view == "trend":
        return reports.trend(runner, reports.trend_period(period), filters)
    if view == "alerts":
        return reports.alerts(runner, period, filters)
    if view == "heatmap":
        return reports.query(runner, "heatmap", period, filters)
    return reports.query(runner, "aggregate_check", period, filters)


def _write_html(runner: Runner, period: Period, filters: Filters, path: Path) -> int:
    from haochaping.catalog import default_catalog
    from sinks import reports
    from streams.dashboard import render_page

    names = {code: matter.name for code, matter in default_catalog().matters.items()}
    payload = reports.dashboard_payload(runner, period, filters, names)
    path.write_text(render_page(payload, title="好差评溯源 · 流程再造报告"), encoding="utf-8")
    print(f"wrote {path} ({len(payload['priorities'])} priorities, period {period.describe()})", file=sys.stderr)
    return 0


def render(view: str, rows: list[dict[str, Any]], period: str, route: str) -> str:
    """Readable tables: Chinese names first, codes beside them."""
    from cli.tables import format_table
    from haochaping.catalog import default_catalog
    from haochaping.codes import MODE_LABELS, PROVINCES, REASON_LABELS, STEP_LABELS

    catalog = default_catalog()
    modes = {str(mode): label for mode, label in MODE_LABELS.items()}

    def province(code: object) -> str:
        return f"{PROVINCES.get(str(code), '?')} {code}"

    def matter(code: object) -> str:
        return f"{catalog.matter_name(str(code))} {code}"

    def step(code: object) -> str:
        return f"{STEP_LABELS.get(str(code), '?')} {code}"

    def reason(code: object) -> str:
        return REASON_LABELS.get(str(code), "(未注明)" if not code else str(code))

    def reasons(pairs: Iterable[Sequence[object]] | None) -> str:  # [[code, weight], …] from an Array(Tuple)
        return "；".join(f"{reason(code)} {weight:g}" for code, weight in (pairs or []))

    def pct(rate: float | None) -> str:
        return "-" if rate is None else f"{100 * float(rate):.1f}%"

    header = f"统计期 {period} · via {route}"
    if view == "priorities":
        table = format_table(
            f"流程再造优先级 — redesign priorities\n{header}",
            [
                "#",
                "省份",
                "事项",
                "方式",
                "环节",
                "评价",
                "差评",
                "差评率",
                "他省",
                "历史",
                "超额",
                "优先级",
                "主要原因",
            ],
            [
                (
                    index,
                    province(r["province"]),
                    matter(r["matter_code"]),
                    modes.get(r["mode"], r["mode"]),
                    step(r["step"]),
                    r["ratings"],
                    r["negatives"],
                    pct(r["rate"]),
                    pct(r["peer_rate"]),
                    pct(r["history_rate"]),
                    r["excess"],
                    r["priority"],
                    reasons(r["top_reasons"]),
                )
                for index, r in enumerate(rows, start=1)
            ],
        )
        samples = [
            f"  #{index} {PROVINCES.get(r['province'], r['province'])} · {catalog.matter_name(r['matter_code'])} · "
            f"{STEP_LABELS.get(r['step'], r['step'])}: " + " | ".join(f"“{c}”" for c in r["sample_comments"])
            for index, r in enumerate(rows[:5], start=1)
            if r.get("sample_comments")
        ]
        return table + ("\n\n示例评价 (个人信息已脱敏) — sample comments\n" + "\n".join(samples) if samples else "")
    if view == "compare":
        return format_table(
            f"对标 — cross-province comparison (★ = best performer)\n{header}",
            ["", "省份", "评价", "差评", "差评率", "办结", "中位用时", "P90", "超时率", "退回率", "主要原因"],
            [
                (
                    "★" if r["best"] else "",
                    province(r["province"]),
                    r["ratings"],
                    r["negatives"],
                    pct(r["rate"]),
                    r["steps_completed"],
                    r["median_days"],
                    r["p90_days"],
                    pct(r["breach_rate"]),
                    pct(r["send_back_rate"]),
                    reason(r["top_reason"]),
                )
                for r in rows
            ],
        )
    if view == "reducible":
        return format_table(
            f"可精简的环节 — reducible steps\n{header}",
            ["事项", "方式", "环节", "评价", "办结", "差评", "可精简", "占比", "按原因", "省份数"],
            [
                (
                    matter(r["matter_code"]),
                    modes.get(r["mode"], r["mode"]),
                    step(r["step"]),
                    r["ratings"],
                    r["steps_completed"],
                    r["negatives"],
                    r["reducible"],
                    pct(r["reducible_share"]),
                    reasons(r["by_reason"]),
                    r["provinces"],
                )
                for r in rows
            ],
        )
    if view == "handoffs":
        return format_table(
            f"跨省交接热点 — hand-off hotspots\n{header}",
            [
                "环节",
                "移出/请求方",
                "接收/提供方",
                "交接",
                "有评价",
                "差评",
                "差评率",
                "中位用时",
                "超时率",
                "主要原因",
            ],
            [
                (
                    step(r["step"]),
                    province(r["from_province"]),
                    province(r["to_province"]),
                    r["handoffs"],
                    r["rated_handoffs"],
                    r["negatives"],
                    pct(r["rate"]),
                    r["median_days"],
                    pct(r["breach_rate"]),
                    reason(r["top_reason"]),
                )
                for r in rows
            ],
        )
    if view == "trend":
        return format_table(
            f"趋势 — complaint rate over time\n{header}",
            ["时段(UTC)", "评价", "差评", "差评率", "他省评价", "他省差评率"],
            [
                (r["period"], r["ratings"], r["negatives"], pct(r["rate"]), r["peer_ratings"], pct(r["peer_rate"]))
                for r in rows
            ],
        )
    if view == "alerts":
        return format_table(
            f"告警 — alerts\n{header}",
            ["状态", "省份", "事项", "环节", "开始", "结束", "评价", "差评率", "基线", "得分"],
            [
                (
                    f"{r['state']}{' (生效)' if r['active'] else ''}",
                    province(r["province"]),
                    matter(r["matter_code"]) if r["matter_code"] else "全部",
                    step(r["step"]),
                    r["window_start"],
                    r["window_end"],
                    r["ratings"],
                    pct(r["rate"]),
                    pct(r["baseline"]),
                    r["score"],
                )
                for r in rows
            ],
        )
    if view == "heatmap":
        return format_table(
            f"省份 × 环节 差评率 — province × step\n{header}",
            ["省份", "环节", "评价", "差评", "差评率"],
            [(province(r["province"]), step(r["step"]), r["ratings"], r["negatives"], pct(r["rate"])) for r in rows],
        )
    if not rows:
        return "聚合校验通过 — the aggregates equal a recomputation from the raw tables."
    return format_table(
        "聚合与原始表不一致 — aggregates differ from the raw tables",
        list(rows[0]),
        [tuple(r.values()) for r in rows],
    )
