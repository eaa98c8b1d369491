"""Pure parts of the analysts' side: SQL statement checks, periods, JSON values, the page's escaping,
and that every named query binds its values as ClickHouse parameters.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest

from sinks import analytics, reports
from sinks.queries import Table
from streams.dashboard import render_page


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1;", "SELECT 1"),
        ("  SELECT 1 ;; \n", "SELECT 1"),
        ("SELECT ';' AS semicolon", "SELECT ';' AS semicolon"),
        ("SELECT 'it\\'s;' AS x", "SELECT 'it\\'s;' AS x"),
        ("SELECT 1 /* ; */ + 1", "SELECT 1 /* ; */ + 1"),
        ("SELECT 1 -- trailing; comment", "SELECT 1 -- trailing; comment\n"),
    ],
)
def test_only_statement_accepts_one(sql: str, expected: str) -> None:
    assert analytics.only_statement(sql) == expected


@pytest.mark.parametrize("sql", ["", " ; ", "SELECT 1; DROP TABLE ratings", "SELECT 1;\nSELECT 2"])
def test_only_statement_refuses_several_or_none(sql: str) -> None:
    with pytest.raises(analytics.NotOneStatement):
        analytics.only_statement(sql)


def test_named_queries_bind_every_value() -> None:
    """No query text is formatted from input: every varying value is a {name:Type} placeholder."""
    for query in analytics.NAMED_QUERIES.values():
        for placeholder in re.findall(r"\{[^{}]*\}", query.sql):
            assert re.fullmatch(r"\{[a-z_]+:[A-Za-z0-9()]+\}", placeholder), (query.name, placeholder)
        assert query.example.startswith("hcp "), query.name


def test_parse_moment_reads_beijing_dates_and_times() -> None:
    assert reports.parse_moment("2026-11-20") == datetime(2026, 11, 19, 16, tzinfo=UTC)
    assert reports.parse_moment("2026-11-20T09:30") == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert reports.parse_moment("2026-11-20T09:30:00+00:00") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date"):
        reports.parse_moment("last week")


def test_whole_beijing_days_read_the_daily_table() -> None:
    days = reports.Period(reports.parse_moment("2026-11-20"), reports.parse_moment("2026-11-27"), datetime.now(UTC))
    hours = reports.Period(
        reports.parse_moment("2026-11-20T09:00"), reports.parse_moment("2026-11-27"), datetime.now(UTC)
    )
    assert days.table == "step_stats_daily"
    assert hours.table == "step_stats_hourly"
    assert days.parameters()["since"] == "2026-11-19 16:00:00"


def test_default_period_ends_at_the_newest_data() -> None:
    newest = datetime(2026, 11, 24, 2)

    def run(sql: str, parameters: object) -> Table:
        assert sql == analytics.DATA_RANGE
        return Table(["first_hour", "end_hour", "ratings"], [(datetime(2026, 11, 16), newest, 5)])

    period = reports.resolve_period(run, days=7, history_days=28)
    assert period.until == newest.replace(tzinfo=UTC)
    assert (period.until - period.since).days == 7
    assert (period.since - period.history_since).days == 28


def test_json_safe_values() -> None:
    value = {"t": datetime(2026, 11, 20, 1), "d": date(2026, 11, 20), "x": float("nan"), "m": {1: (2, "a")}}
    assert reports.json_safe(value) == {
        "t": "2026-11-20T01:00:00+00:00",
        "d": "2026-11-20",
        "x": None,
        "m": {"1": [2, "a"]},
    }


def test_page_is_self_contained_and_data_cannot_break_out() -> None:
    payload = {"priorities": [{"comment": "</script><script>alert(1)</script>"}]}
    page = render_page(payload, title="<b>标题</b>")
    assert "</script><script>alert(1)" not in page
    assert "&lt;b&gt;标题&lt;/b&gt;" in page
    embedded = page.split('<script type="application/json" id="hcp-data">')[1].split("</script>")[0]
    assert json.loads(embedded) == payload
    assert "<script src" not in page and 'href="http' not in page and "{{" not in page.replace(embedded, "")
