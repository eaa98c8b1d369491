"""The official calendar: 国庆, 春节 and 调休 weekends in every time limit, and dates it does not cover."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest

from cli.main import build_parser
from haochaping.backtest import BacktestReport, backtest
from haochaping.catalog import default_catalog
from haochaping.codes import StepKind
from haochaping.decoding import EventKind
from haochaping.events import CaseEvent, RatingEvent
from haochaping.holidays import official_calendar, work_calendar
from haochaping.ingest import Ingestor, Message
from haochaping.settings import Settings, SettingsError
from haochaping.simulation import clock
from haochaping.timeline import CaseTimeline
from haochaping.tracing import trace
from haochaping.workdays import CHINA_TZ, WEEKDAYS, CalendarNotCovered, DateRange
from tests.wire import case_event, encode, rating

CATALOG = default_catalog()
OFFICIAL = official_calendar()
MATTER = "HCP-GA-XSEDJ"  # 新生儿户口登记 (proxy): TRANSFER has a limit of 3 working days
RCV = {"code": "SH-RCV-01", "name": "上海市浦东新区政务服务中心", "province": "310000", "role": "RECEIVING"}
HDL = {"code": "AH-HDL-GA", "name": "安徽省阜阳市公安局户政科", "province": "340000", "role": "HANDLING"}
TOPICS: dict[str, EventKind] = {"t.ratings": "rating", "t.cases": "case"}
# The first year the installed chinese-calendar does not know (2027 for 1.11.0).
NEXT_YEAR = OFFICIAL.covers.last.year + 1 if OFFICIAL.covers is not None else 0


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CHINA_TZ)


# -- the calendar itself ---------------------------------------------------------------------------


def test_the_covered_years_are_the_packages_own() -> None:
    assert OFFICIAL.covers is not None
    assert OFFICIAL.covers.first == date(2004, 1, 1)
    assert OFFICIAL.covers.last == date(max(chinese_calendar.holidays).year, 12, 31)
    assert OFFICIAL.covers.last.year >= 2026
    assert OFFICIAL.source == f"chinese-calendar {chinese_calendar.__version__}"
    # The package itself refuses the first year after.
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(NEXT_YEAR, 1, 1))


def test_every_covered_day_agrees_with_the_package() -> None:
    assert OFFICIAL.covers is not None
    day = OFFICIAL.covers.first
    while day <= OFFICIAL.covers.last:
        assert OFFICIAL.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_guoqing_2026_and_its_tiaoxiu_days() -> None:
    # 2026: 10月1日至7日放假 (Thu–Wed); 9月20日（周日）、10月10日（周六）上班.
    assert [OFFICIAL.is_working_day(date(2026, 10, d)) for d in range(1, 11)] == [
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        True,
    ]
    assert OFFICIAL.is_working_day(date(2026, 9, 20))  # a Sunday worked
    # Wed 30 Sep 09:00 → Fri 9 Oct 09:00: 15 h of the 30th, all of the 8th, 9 h of the 9th.
    assert OFFICIAL.between(at(2026, 9, 30), at(2026, 10, 9)) == pytest.approx(2.0, abs=1e-9)
    assert WEEKDAYS.between(at(2026, 9, 30), at(2026, 10, 9)) == pytest.approx(7.0, abs=1e-9)


def test_a_tiaoxiu_saturday_is_a_working_day() -> None:
    # Fri 9 Oct 09:00 → Mon 12 Oct 09:00: 15 h + the whole 调休 Saturday + 9 h; Sunday off.
    assert OFFICIAL.between(at(2026, 10, 9), at(2026, 10, 12)) == pytest.approx(2.0, abs=1e-9)
    assert WEEKDAYS.between(at(2026, 10, 9), at(2026, 10, 12)) == pytest.approx(1.0, abs=1e-9)
    assert OFFICIAL.between(at(2026, 10, 10, 0), at(2026, 10, 11, 0)) == pytest.approx(1.0, abs=1e-9)


def test_chunjie_2026() -> None:
    # 2月15日至23日放假; 2月14日（周六）、2月28日（周六）上班.
    # Fri 13 Feb 09:00 → Wed 25 Feb 09:00: 0.625 + the 14th + the 24th + 0.375.
    assert OFFICIAL.between(at(2026, 2, 13), at(2026, 2, 25)) == pytest.approx(3.0, abs=1e-9)
    assert WEEKDAYS.between(at(2026, 2, 13), at(2026, 2, 25)) == pytest.approx(8.0, abs=1e-9)
    assert OFFICIAL.is_working_day(date(2026, 2, 28))


def test_outside_the_covered_years_the_rule_is_mon_to_fri() -> None:
    new_year = at(NEXT_YEAR, 1, 1, 0)
    start, end = at(NEXT_YEAR - 1, 12, 28), at(NEXT_YEAR, 1, 12)
    assert OFFICIAL.between(start, end) == pytest.approx(
        OFFICIAL.between(start, new_year) + WEEKDAYS.between(new_year, end), abs=1e-9
    )
    # 元旦 of a year not published yet counts as the weekday it falls on.
    assert OFFICIAL.between(at(2031, 2, 3), at(2031, 2, 5)) == WEEKDAYS.between(at(2031, 2, 3), at(2031, 2, 5))


def test_outside_names_only_the_uncovered_dates() -> None:
    new_year = at(NEXT_YEAR, 1, 1, 0)
    assert OFFICIAL.outside(at(NEXT_YEAR - 1, 12, 30).timestamp(), new_year.timestamp()) is None
    dates = OFFICIAL.outside(at(NEXT_YEAR - 1, 12, 30).timestamp(), at(NEXT_YEAR, 1, 5).timestamp())
    assert dates == DateRange(date(NEXT_YEAR, 1, 1), date(NEXT_YEAR, 1, 5))
    assert OFFICIAL.outside(at(2003, 12, 30).timestamp(), at(2004, 1, 2).timestamp()) == DateRange(
        date(2003, 12, 30), date(2003, 12, 31)
    )
    assert WEEKDAYS.outside(at(2031, 2, 3).timestamp(), at(2031, 2, 4).timestamp()) is None


def test_the_error_names_the_dates_and_the_covered_years() -> None:
    assert OFFICIAL.covers is not None
    error = CalendarNotCovered(DateRange(date(2031, 2, 3), date(2031, 2, 3)), OFFICIAL)
    assert str(error) == (
        f"2031-02-03 is outside the official holiday calendar (2004–{OFFICIAL.covers.last.year}, "
        f"chinese-calendar {chinese_calendar.__version__}): holidays and 调休 workdays there are not known"
    )
    assert isinstance(error, ValueError)


def test_the_setting_chooses_the_calendar(tmp_path: Path) -> None:
    base = {"HCP_DATA_DIR": str(tmp_path), "HCP_PSEUDONYM_KEY": "k"}
    assert Settings.from_env(base).calendar is OFFICIAL
    assert Settings.from_env({**base, "HCP_HOLIDAY_CALENDAR": "none"}).calendar is WEEKDAYS
    assert Settings.from_env({**base, "HCP_HOLIDAY_CALENDAR": " Official "}).holiday_calendar == "official"
    with pytest.raises(SettingsError, match="HCP_HOLIDAY_CALENDAR='lunar' is not one of official, none"):
        Settings.from_env({**base, "HCP_HOLIDAY_CALENDAR": "lunar"})
    settings = Settings(data_dir=tmp_path, pseudonym_key=b"k", holiday_calendar="none")
    assert Settings.from_env(settings.to_env()) == settings
    with pytest.raises(ValueError, match="unknown holiday calendar 'lunar'"):
        work_calendar("lunar")


def test_the_simulated_offices_keep_the_same_calendar() -> None:
    assert not clock.is_working_day(at(2026, 10, 1).timestamp())
    assert clock.is_working_day(at(2026, 10, 10).timestamp())  # the 调休 Saturday
    assert clock.add_work(int(at(2026, 9, 30).timestamp()), 2.0) == int(at(2026, 10, 9).timestamp())
    assert clock.work_between(int(at(2026, 9, 30).timestamp()), int(at(2026, 10, 12).timestamp())) == 4.0


# -- time limits around the holidays ---------------------------------------------------------------


def events(transfer_from: datetime, transfer_to: datetime, case_id: str = "C1") -> list[dict[str, Any]]:
    """Accepted in Shanghai, sent to Anhui: the TRANSFER step runs transfer_from → transfer_to."""
    rows = [
        ("ACCEPT", "complete", RCV, transfer_from - timedelta(hours=1)),
        ("TRANSFER", "start", RCV, transfer_from),
        ("TRANSFER", "transfer_out", RCV, transfer_from + timedelta(hours=1)),
        ("TRANSFER", "transfer_in", HDL, transfer_to - timedelta(hours=1)),
        ("TRANSFER", "complete", HDL, transfer_to),
    ]
    return [
        case_event(
            event_id=f"{case_id}-e{number}",
            case_id=case_id,
            matter_code=MATTER,
            step=step,
            action=action,
            org=org,
            at=moment.isoformat(),
        )
        for number, (step, action, org, moment) in enumerate(rows)
    ]


def timeline(transfer_from: datetime, transfer_to: datetime) -> CaseTimeline:
    return CaseTimeline.from_events(
        CaseEvent.model_validate_json(encode(e)) for e in events(transfer_from, transfer_to)
    )


def slow_rating(rated_at: datetime, case_id: str = "C1", rating_id: str = "R1") -> dict[str, Any]:
    return rating(
        rating_id=rating_id,
        case_id=case_id,
        matter_code=MATTER,
        province="310000",
        comment="太慢了",
        tags=[],
        rated_at=rated_at.isoformat(),
    )


def transfer(records: list[Any]) -> Any:
    return next(record for record in records if record.step == StepKind.TRANSFER)


def test_three_working_days_over_guoqing_are_not_breached() -> None:
    case = timeline(at(2026, 9, 30), at(2026, 10, 9))
    official = transfer(case.steps(CATALOG))  # the default calendar is the official one
    assert official.working_days == pytest.approx(2.0, abs=1e-9)
    assert official.limit_days == 3 and not official.breached
    plain = transfer(case.steps(CATALOG, WEEKDAYS))
    assert plain.working_days == pytest.approx(7.0, abs=1e-9) and plain.breached


def test_the_holiday_flips_the_timeline_evidence() -> None:
    case = timeline(at(2026, 9, 30), at(2026, 10, 9))
    complaint = RatingEvent.model_validate_json(encode(slow_rating(at(2026, 10, 10, 10))))
    assert "timeline:TRANSFER took 7.0 working days (limit 3)" in trace(complaint, case, CATALOG, WEEKDAYS).evidence
    assert not any(line.startswith("timeline:TRANSFER took") for line in trace(complaint, case, CATALOG).evidence)


# -- the stream and the batch commands -------------------------------------------------------------


def write_lines(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents), encoding="utf-8")
    return path


def run(*argv: str) -> int:
    """An hcp command as the command line runs it (settings: the defaults, the official calendar)."""
    args = build_parser().parse_args(argv)
    return int(args.run(args, Settings(pseudonym_key=b"k")))


def run_trace(path: Path, *options: str) -> int:
    return run("trace", "--quiet", *options, str(path))


def ingest(documents: list[dict[str, Any]], strict_calendar: bool = False) -> Any:
    messages = [
        Message("t.cases" if d["schema"] == "hcp.case/1" else "t.ratings", 0, offset, d["case_id"].encode(), encode(d))
        for offset, d in enumerate(documents)
    ]
    ingestor = Ingestor(TOPICS, b"k", CATALOG, strict_calendar=strict_calendar)
    return ingestor.process(messages, {})


def test_hcp_trace_and_the_stream_count_the_same_working_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # TRANSFER Wed 30 Sep 09:00 → Mon 12 Oct 09:00: 0.625 + 8th + 9th + 调休 10th + 0.375 = 4.0 (Mon–Fri: 8.0).
    documents = [*events(at(2026, 9, 30), at(2026, 10, 12)), slow_rating(at(2026, 10, 13, 10))]
    assert run_trace(write_lines(tmp_path / "mixed.jsonl", documents)) == 0
    from_cli = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    batch = ingest(documents)
    from_stream = [traced.wire for traced in batch.attributions]
    assert from_cli == from_stream
    assert "timeline:TRANSFER took 4.0 working days (limit 3)" in from_stream[0]["evidence"]
    # The stream's case_steps row: step, ..., working_days, limit_days, breached at positions 3, 10, 11, 12.
    (row,) = [row for row in batch.rows["case_steps"] if row[3] == "TRANSFER"]
    assert row[10:13] == (pytest.approx(4.0, abs=1e-9), 3, 1)
    assert batch.outside_calendar == 0


def test_the_stream_counts_mon_to_fri_past_the_calendar_and_says_so() -> None:
    end = at(NEXT_YEAR, 1, 5)
    documents = [*events(at(NEXT_YEAR - 1, 12, 30), end), slow_rating(end + timedelta(hours=1))]
    batch = ingest(documents)
    # The TRANSFER row and the rated timeline, both measured up to 5 January.
    assert batch.outside_calendar == 2
    assert batch.outside_dates == DateRange(date(NEXT_YEAR, 1, 1), date(NEXT_YEAR, 1, 5))
    evidence = batch.attributions[0].wire["evidence"]
    assert evidence[-1] == (
        f"calendar:{NEXT_YEAR}-01-01 to {NEXT_YEAR}-01-05 outside the official holiday calendar "
        f"(2004–{NEXT_YEAR - 1}): working days counted Mon–Fri"
    )
    with pytest.raises(CalendarNotCovered, match=f"{NEXT_YEAR}-01-01 to {NEXT_YEAR}-01-05 is outside"):
        ingest(documents, strict_calendar=True)


def test_a_rating_after_the_calendar_about_steps_done_before_it_is_exact() -> None:
    # Every step was completed in the last covered year; the rating comes in the next.
    documents = [*events(at(NEXT_YEAR - 1, 12, 14), at(NEXT_YEAR - 1, 12, 22)), slow_rating(at(NEXT_YEAR, 1, 4, 10))]
    batch = ingest(documents)
    assert batch.outside_calendar == 0 and batch.outside_dates is None
    assert not any(line.startswith("calendar:") for line in batch.attributions[0].wire["evidence"])
    assert [t.wire for t in ingest(documents, strict_calendar=True).attributions] == [
        t.wire for t in batch.attributions
    ]


def test_hcp_trace_refuses_dates_outside_the_calendar_unless_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    end = at(NEXT_YEAR, 1, 5)
    documents = [
        *events(at(NEXT_YEAR - 1, 12, 30), end),
        slow_rating(end + timedelta(hours=1)),
        slow_rating(at(NEXT_YEAR - 1, 12, 31, 10), rating_id="R2"),  # traced as of the 31st: inside
    ]
    path = write_lines(tmp_path / "late.jsonl", documents)
    assert run_trace(path) == 2
    captured = capsys.readouterr()
    assert [json.loads(line)["rating_id"] for line in captured.out.splitlines()] == ["R2"]
    dates = f"{NEXT_YEAR}-01-01 to {NEXT_YEAR}-01-05"
    assert f"{path}:6: rating R1 not traced: {dates} is outside the official holiday calendar" in captured.err
    assert f"trace: 1 rating not traced, measured on {dates}, outside the official holiday calendar" in captured.err
    assert "pass --outside-calendar weekdays" in captured.err

    assert run_trace(path, "--outside-calendar", "weekdays") == 0
    captured = capsys.readouterr()
    traced = [json.loads(line) for line in captured.out.splitlines()]
    assert [wire["rating_id"] for wire in traced] == ["R1", "R2"]
    assert traced == [t.wire for t in ingest(documents).attributions]
    assert traced[0]["evidence"][-1].startswith(f"calendar:{dates} outside")
    assert f"trace: 1 rating measured Mon-Fri on {dates}, outside the official holiday calendar" in captured.err


def test_hcp_backtest_stops_or_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    end = at(NEXT_YEAR, 1, 5)
    documents = [*events(at(NEXT_YEAR - 1, 12, 30), end), slow_rating(end + timedelta(hours=1))]
    lines = [encode(d) for d in documents]
    with pytest.raises(CalendarNotCovered):
        list(backtest(lines, None, CATALOG, strict_calendar=True))
    report = BacktestReport()
    list(backtest(lines, None, CATALOG, report=report))
    assert report.outside_calendar == 2
    assert report.outside_dates == DateRange(date(NEXT_YEAR, 1, 1), date(NEXT_YEAR, 1, 5))

    path = write_lines(tmp_path / "history.jsonl", documents)
    assert run("backtest", "--quiet", str(path)) == 2
    assert f"hcp backtest: stopped: {NEXT_YEAR}-01-01 to {NEXT_YEAR}-01-05 is outside" in capsys.readouterr().err
    assert run("backtest", "--quiet", "--outside-calendar", "weekdays", str(path)) == 0
    assert f"backtest: 2 steps and rated timelines measured Mon-Fri on {NEXT_YEAR}-01-01 to" in capsys.readouterr().err
