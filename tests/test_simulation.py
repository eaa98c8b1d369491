"""Tests of the traffic simulator: determinism, wire validity, order, shares, timelines, incidents."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import islice

import pytest

from haochaping.catalog import Catalog, Process, StepSpec, default_catalog
from haochaping.codes import PROVINCES, Action, Mode, Reason, StepKind
from haochaping.decoding import Rejection, decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.simulation import (
    DEFAULT_START,
    Incident,
    SimulatedEvent,
    SimulationConfig,
    Simulator,
    parse_incident,
)
from haochaping.timeline import CaseTimeline

RATINGS_FOR_SHARES = 5000
# A low case rate spreads the ratings over more simulated days, so fewer events are needed for
# 5,000 ratings (long cases rate weeks after they start); the mix of the ratings is the same.
QUIET = 20.0


@dataclass
class Run:
    events: list[SimulatedEvent]
    ratings: list[SimulatedEvent]
    cases: dict[str, list[SimulatedEvent]]


def simulate(config: SimulationConfig, ratings: int = RATINGS_FOR_SHARES) -> Run:
    events: list[SimulatedEvent] = []
    rated: list[SimulatedEvent] = []
    cases: dict[str, list[SimulatedEvent]] = defaultdict(list)
    for event in Simulator(default_catalog(), config).events():
        events.append(event)
        if event.kind == "rating":
            rated.append(event)
            if len(rated) >= ratings:
                break
        else:
            cases[str(event.payload["case_id"])].append(event)
    return Run(events, rated, dict(cases))


@pytest.fixture(scope="module")
def run() -> Run:
    return simulate(SimulationConfig(seed=11, cases_per_hour=QUIET))


def is_negative(event: SimulatedEvent) -> bool:
    level = event.payload["level"]
    assert isinstance(level, int)
    return level <= 2


# -- determinism ---------------------------------------------------------------------------


def first_payloads(config: SimulationConfig, count: int = 2000) -> list[tuple[str, object]]:
    stream = Simulator(default_catalog(), config).events()
    return [(json.dumps(e.payload, ensure_ascii=False), e.truth) for e in islice(stream, count)]


def test_same_seed_same_stream() -> None:
    assert first_payloads(SimulationConfig(seed=5)) == first_payloads(SimulationConfig(seed=5))


def test_events_can_be_replayed_from_one_simulator() -> None:
    simulator = Simulator(default_catalog(), SimulationConfig(seed=5))
    first = [e.payload for e in islice(simulator.events(), 500)]
    again = [e.payload for e in islice(simulator.events(), 500)]
    assert first == again


def test_other_seed_other_stream() -> None:
    assert first_payloads(SimulationConfig(seed=5), 300) != first_payloads(SimulationConfig(seed=6), 300)


def test_ids_are_deterministic_and_unique(run: Run) -> None:
    event_ids = [e.payload["event_id"] for e in run.events if e.kind == "case"]
    rating_ids = [e.payload["rating_id"] for e in run.ratings]
    assert event_ids[0] == "E11-000000001"
    assert len(set(event_ids)) == len(event_ids)
    assert len(set(rating_ids)) == len(rating_ids)
    assert all(str(case_id).startswith("C11-") for case_id in run.cases)


# -- wire validity and order ---------------------------------------------------------------


def test_payloads_decode(run: Run) -> None:
    sample = run.events[:20_000] + run.ratings
    for event in sample:
        decoded = decode_event(json.dumps(event.payload, ensure_ascii=False).encode("utf-8"))
        assert not isinstance(decoded, Rejection), (decoded, event.payload)
        assert isinstance(decoded, RatingEvent if event.kind == "rating" else CaseEvent)


def test_event_time_never_goes_back(run: Run) -> None:
    times = [e.at for e in run.events]
    assert times == sorted(times)
    assert times[0] >= DEFAULT_START
    for event in run.events[:2000]:
        stamp = event.payload["rated_at" if event.kind == "rating" else "at"]
        assert isinstance(stamp, str)
        assert datetime.fromisoformat(stamp) == event.at


def test_several_provinces_and_channels(run: Run) -> None:
    provinces = {e.payload["province"] for e in run.ratings}
    assert len(provinces) >= 8
    channels = {e.payload["channel"] for e in run.ratings}
    assert {"window", "app", "sms", "hotline"} <= channels


# -- shares --------------------------------------------------------------------------------


def test_negative_share_within_range(run: Run) -> None:
    assert len(run.ratings) == RATINGS_FOR_SHARES
    share = sum(is_negative(e) for e in run.ratings) / len(run.ratings)
    assert 0.08 <= share <= 0.15, share


def test_hotline_ratings_have_no_case(run: Run) -> None:
    hotline = [e for e in run.ratings if e.payload["channel"] == "hotline"]
    assert 0.01 <= len(hotline) / len(run.ratings) <= 0.06
    assert all(e.payload["case_id"] is None for e in hotline)
    assert all(e.payload["case_id"] is not None for e in run.ratings if e.payload["channel"] != "hotline")


def test_truth_only_for_negative_ratings(run: Run) -> None:
    labels = {step.value for step in StepKind} | {"JOURNEY", "POLICY", "UNKNOWN"}
    for event in run.ratings:
        if not is_negative(event):
            assert event.truth is None
            continue
        truth = event.truth
        assert truth is not None
        assert truth.step in labels
        assert truth.province in PROVINCES
        assert isinstance(truth.reason, Reason)
        assert truth.incident is False  # no incidents configured


# -- coverage and timelines ----------------------------------------------------------------


def test_every_matter_and_mode_appears(run: Run) -> None:
    expected = {(code, mode.value) for code, m in default_catalog().matters.items() for mode in m.processes}
    seen = {(e.payload["matter_code"], e.payload["mode"]) for e in run.events if e.kind == "case"}
    assert seen == expected


def test_every_step_starts_and_completes_with_one_org(run: Run) -> None:
    catalog = default_catalog()
    complete_cases = 0
    for case_id, events in run.cases.items():
        first = events[0].payload
        process, known = catalog.process(str(first["matter_code"]), Mode(str(first["mode"])))
        assert known
        by_step: dict[str, list[dict[str, object]]] = defaultdict(list)
        for event in events:
            by_step[str(event.payload["step"])].append(event.payload)
        order = list(by_step)
        assert order == [spec.step.value for spec in process.steps][: len(order)], case_id
        if len(order) == len(process.steps) and by_step[order[-1]][-1]["action"] == "complete":
            complete_cases += 1
        for step, payloads in by_step.items():
            spec = process.spec_for(StepKind(step))
            assert spec is not None
            assert payloads[0]["action"] == "start"
            performer = payloads[0]["org"]
            assert isinstance(performer, dict)
            assert performer["role"] == spec.role.value
            for payload in payloads:
                if payload["action"] in ("start", "complete", "transfer_out"):
                    assert payload["org"] == performer
    assert complete_cases > 1000


def test_transfers_cross_provinces(run: Run) -> None:
    transfers = 0
    for events in run.cases.values():
        out = [e.payload for e in events if e.payload["action"] == Action.TRANSFER_OUT.value]
        into = [e.payload for e in events if e.payload["action"] == Action.TRANSFER_IN.value]
        if not out or not into:
            continue
        transfers += 1
        sender, receiver = out[0]["org"], into[0]["org"]
        assert isinstance(sender, dict) and isinstance(receiver, dict)
        assert sender["province"] != receiver["province"]
        assert (sender["role"], receiver["role"]) == ("RECEIVING", "HANDLING")
    assert transfers > 200


def test_returns_and_fails_happen(run: Run) -> None:
    actions = [e.payload["action"] for e in run.events if e.kind == "case"]
    assert actions.count("return") > 50
    assert actions.count("fail") > 50


def test_ratings_follow_their_case(run: Run) -> None:
    """rated_at after the case's last event so far; the portal is the receiving province."""
    last_seen: dict[str, tuple[datetime, str]] = {}
    receiving: dict[str, str] = {}
    for event in run.events:
        payload = event.payload
        case_id = payload["case_id"]
        if event.kind == "case":
            org = payload["org"]
            assert isinstance(case_id, str) and isinstance(org, dict)
            last_seen[case_id] = (event.at, str(payload["step"]))
            if org["role"] in ("RECEIVING", "PLATFORM"):
                receiving.setdefault(case_id, str(org["province"]))
        elif case_id is not None:
            assert isinstance(case_id, str)
            assert event.at >= last_seen[case_id][0]
            if case_id in receiving:
                assert payload["province"] == receiving[case_id]


def test_truth_names_a_step_the_case_went_through(run: Run) -> None:
    """A step-level truth points at an org that performed that step in that province."""
    performed: dict[str, set[tuple[str, str]]] = defaultdict(set)
    checked = 0
    for event in run.events:
        payload = event.payload
        if event.kind == "case":
            org = payload["org"]
            assert isinstance(org, dict)
            performed[str(payload["case_id"])].add((str(payload["step"]), str(org["province"])))
        elif event.truth is not None and payload["case_id"] is not None:
            truth = event.truth
            if truth.step in {step.value for step in StepKind}:
                assert (truth.step, truth.province) in performed[str(payload["case_id"])]
                checked += 1
    assert checked > 200


# -- comments ------------------------------------------------------------------------------


def test_comments_are_varied_and_fit_the_level(run: Run) -> None:
    negative = [e.payload["comment"] for e in run.ratings if is_negative(e) and e.payload["comment"]]
    assert len(set(negative)) >= 200
    assert any("材料" in str(c) for c in negative)
    positive = [e.payload["comment"] for e in run.ratings if e.payload["level"] == 5 and e.payload["comment"]]
    assert len(set(positive)) >= 50
    complaint_words = ("太慢", "差评", "不满意", "失望", "拖了")
    assert not any(word in str(comment) for comment in positive for word in complaint_words)


def test_delay_comments_are_about_the_delayed_step(run: Run) -> None:
    transfer_delays = [
        str(e.payload["comment"])
        for e in run.ratings
        if e.truth is not None and e.truth.step == "TRANSFER" and e.truth.reason is Reason.DELAY
        and e.payload["comment"]
    ]
    assert transfer_delays
    words = ("材料", "太慢", "等太久", "拖", "不满意", "效率", "慢", "时间太长")
    assert all(any(word in comment for word in words) for comment in transfer_delays)


# -- incidents -----------------------------------------------------------------------------


def share_at(run: Run, province: str, step: str) -> tuple[float, float, int]:
    """Among ratings of cases in which `province`'s org performed `step`: the share of 差评, and
    the share of 差评 whose ground truth blames that step in that province."""
    affected = {
        case_id
        for case_id, events in run.cases.items()
        if any(e.payload["step"] == step and e.payload["org"]["province"] == province for e in events)  # type: ignore[index]
    }
    rated = [e for e in run.ratings if e.payload["case_id"] in affected]
    blamed = [e for e in rated if e.truth is not None and (e.truth.step, e.truth.province) == (step, province)]
    return sum(is_negative(e) for e in rated) / len(rated), len(blamed) / len(rated), len(rated)


def test_incident_raises_negative_share_at_its_step(run: Run) -> None:
    incident = parse_incident(f"province=340000,step=REVIEW,start={DEFAULT_START.isoformat()},factor=5")
    degraded = simulate(SimulationConfig(seed=11, cases_per_hour=QUIET, incidents=(incident,)))
    negative_before, blamed_before, n_before = share_at(run, "340000", "REVIEW")
    negative_after, blamed_after, n_after = share_at(degraded, "340000", "REVIEW")
    assert n_before > 200 and n_after > 200
    assert negative_after > negative_before
    assert blamed_after >= 3 * blamed_before > 0, (blamed_before, blamed_after)

    truths = [e.truth for e in run.ratings if e.truth is not None]
    assert not any(t.incident for t in truths)
    marked = [e.truth for e in degraded.ratings if e.truth is not None and e.truth.incident]
    assert len(marked) >= 10
    assert all((t.step, t.province, t.reason) == ("REVIEW", "340000", Reason.DELAY) for t in marked)


def test_incident_window_and_matter_limit_it() -> None:
    start = DEFAULT_START + timedelta(days=3)
    incident = Incident("340000", StepKind.REVIEW, start, start + timedelta(days=2), 20.0, "HCP-YB-JYBA")
    events = simulate(SimulationConfig(seed=3, cases_per_hour=QUIET, incidents=(incident,)), 3000).ratings
    marked = [e for e in events if e.truth is not None and e.truth.incident]
    assert marked
    assert all(e.payload["matter_code"] == "HCP-YB-JYBA" for e in marked)


# -- configuration -------------------------------------------------------------------------


def test_parse_incident_full() -> None:
    incident = parse_incident(
        "province=340000,step=TRANSFER,start=2026-11-20T09:00:00+08:00,factor=3,"
        "end=2026-11-21T09:00:00+08:00,matter=HCP-GA-XSEDJ,reason=BUCK_PASSING"
    )
    assert incident.province == "340000"
    assert incident.step is StepKind.TRANSFER
    assert incident.factor == 3.0
    assert incident.end is not None and incident.end - incident.start == timedelta(days=1)
    assert incident.matter_code == "HCP-GA-XSEDJ"
    assert incident.reason is Reason.BUCK_PASSING
    minimal = parse_incident("province=340000,step=TRANSFER,start=2026-11-20T09:00:00+08:00,factor=3")
    assert (minimal.end, minimal.matter_code, minimal.reason) == (None, None, None)


BASE = "province=340000,step=TRANSFER,start=2026-11-20T09:00:00+08:00,factor=3"


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("province=340000,step=TRANSFER,start=2026-11-20T09:00:00+08:00", "'factor'"),
        (BASE + ",provnce=340000", "'provnce'"),
        (BASE.replace("TRANSFER", "REVEIW"), "step"),
        (BASE.replace("340000", "999999"), "province"),
        (BASE.replace("factor=3", "factor=x"), "factor"),
        (BASE.replace("factor=3", "factor=-1"), "factor"),
        (BASE.replace("+08:00", ""), "start"),
        (BASE.replace("2026-11-20T09", "tomorrow"), "start"),
        (BASE + ",end=2026-11-19T09:00:00+08:00", "end"),
        (BASE + ",reason=SLOW", "reason"),
        (BASE + ",matter=bad code", "matter"),
        (BASE + ",factor=4", "'factor'"),
        (BASE + ",oops", "'oops'"),
    ],
)
def test_parse_incident_errors_name_the_key(spec: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_incident(spec)


@pytest.mark.parametrize(
    "options",
    [
        {"provinces": ("340000",)},
        {"provinces": ("340000", "999999")},
        {"provinces": ("340000", "340000")},
        {"negative_share": 0.0},
        {"rating_share": 1.5},
        {"hotline_share": -0.1},
        {"cases_per_hour": 0.0},
        {"start": datetime(2026, 11, 16, 8, 0)},
    ],
)
def test_config_rejects_bad_values(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimulationConfig(**options)  # type: ignore[arg-type]


def test_unknown_matters_use_the_generic_process() -> None:
    catalog = default_catalog()
    config = SimulationConfig(seed=4, unknown_matter_share=1.0)
    events = list(islice(Simulator(catalog, config).events(), 3000))
    codes = {str(e.payload["matter_code"]) for e in events if e.kind == "case"}
    assert codes and all(code.startswith("LOCAL-") for code in codes)
    for event in events:
        if event.kind == "case":
            process, known = catalog.process(str(event.payload["matter_code"]), Mode(str(event.payload["mode"])))
            assert not known
            assert process.spec_for(StepKind(str(event.payload["step"]))) is not None


def test_simulated_steps_keep_the_limit_of_the_province_that_performs_them() -> None:
    # 浙江 reviews 户口迁移 within 1 working day in this catalog (the national limit is 5): its
    # simulated reviews must be timed for that limit, or every one would look like a breach.
    national = default_catalog()
    matter = national.matters["HCP-GA-HKQY"]
    one_day = tuple(
        StepSpec(spec.step, spec.role, 1) if spec.step is StepKind.REVIEW else spec
        for spec in matter.processes[Mode.JOINT].steps
    )
    zhejiang = Process(Mode.JOINT, one_day, "330000")
    catalog = Catalog({"HCP-GA-HKQY": replace(matter, overrides={Mode.JOINT: {"330000": zhejiang}})}, national.generic)
    cases: dict[str, list[CaseEvent]] = defaultdict(list)
    config = SimulationConfig(seed=4, provinces=("310000", "330000"), cases_per_hour=5.0)
    for simulated in islice(Simulator(catalog, config).events(), 30_000):
        if simulated.kind == "case":
            event = decode_event(json.dumps(simulated.payload).encode())
            assert isinstance(event, CaseEvent)
            cases[event.case_id].append(event)
    reviews: dict[str, list[bool]] = defaultdict(list)
    for events in cases.values():
        record = CaseTimeline.from_events(events).step_record(StepKind.REVIEW, catalog)
        if record is not None and record.completed_at is not None:
            assert record.limit_days == (1 if record.org.province == "330000" else 5)
            reviews[record.org.province].append(record.breached)
    assert len(reviews["330000"]) > 100 and len(reviews["310000"]) > 100
    # Faults still breach sometimes; timed for five days, most 浙江 reviews would.
    assert sum(reviews["330000"]) / len(reviews["330000"]) < 0.15
