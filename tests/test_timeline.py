"""Case timelines: idempotent out-of-order adds, exact compact encoding, per-step measurements."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from haochaping.catalog import default_catalog
from haochaping.codes import Action, Role, StepKind
from haochaping.events import CaseEvent
from haochaping.timeline import CaseTimeline, OrgRef

CST = timezone(timedelta(hours=8))
MATTER = "HCP-GA-XSEDJ"  # 新生儿户口登记, proxy: TRANSFER limit 3, REVIEW 5, DELIVER 5
RCV = {"code": "SH-RCV-01", "name": "上海市浦东新区政务服务中心跨省通办专窗", "province": "310000", "role": "RECEIVING"}
HDL = {"code": "AH-HDL-GA", "name": "安徽省阜阳市公安局户政科", "province": "340000", "role": "HANDLING"}
EMS = {"code": "AH-EMS", "name": "中国邮政阜阳市分公司", "province": "340000", "role": "LOGISTICS"}


def event(
    event_id: str, step: str, action: str, org: dict[str, str], at: str, note: str | None = None, case: str = "C1"
) -> CaseEvent:
    payload = {
        "schema": "hcp.case/1",
        "event_id": event_id,
        "case_id": case,
        "matter_code": MATTER,
        "mode": "proxy",
        "step": step,
        "action": action,
        "org": org,
        "at": at,
        "note": note,
    }
    return CaseEvent.model_validate_json(json.dumps(payload))


def story() -> list[CaseEvent]:
    """A proxy case: accepted in Shanghai, materials nine working days in transit, one send-back."""
    return [
        event("e01", "ACCEPT", "start", RCV, "2025-03-03T09:00:00+08:00"),
        event("e02", "ACCEPT", "complete", RCV, "2025-03-03T10:00:00+08:00"),
        event("e03", "TRANSFER", "start", RCV, "2025-03-03T10:00:00+08:00"),
        event("e04", "TRANSFER", "transfer_out", RCV, "2025-03-03T12:00:00+08:00"),
        event("e05", "TRANSFER", "transfer_in", HDL, "2025-03-14T12:00:00+08:00"),
        event("e06", "REVIEW", "start", HDL, "2025-03-17T09:00:00+08:00"),
        event("e07", "REVIEW", "return", HDL, "2025-03-17T15:00:00+08:00", "缺少出生医学证明原件"),
        event("e08", "REVIEW", "start", HDL, "2025-03-19T09:00:00+08:00"),
        event("e09", "REVIEW", "complete", HDL, "2025-03-20T09:00:00+08:00"),
        event("e10", "DELIVER", "start", EMS, "2025-03-20T10:00:00+08:00"),
    ]


def test_add_is_idempotent_by_event_id() -> None:
    events = story()
    timeline = CaseTimeline("C1", MATTER, events[0].mode)
    assert all(timeline.add(e) for e in events)
    assert not timeline.add(events[3])
    assert len(timeline) == len(events)


def test_out_of_order_arrival_gives_the_same_state() -> None:
    in_order = CaseTimeline.from_events(story())
    shuffled = CaseTimeline.from_events(list(reversed(story())))
    assert shuffled == in_order
    assert shuffled.encode() == in_order.encode()


def test_events_of_another_case_are_refused() -> None:
    timeline = CaseTimeline.from_events(story())
    with pytest.raises(ValueError, match="case C2"):
        timeline.add(event("x", "ACCEPT", "start", RCV, "2025-03-03T09:00:00+08:00", case="C2"))
    with pytest.raises(ValueError):
        CaseTimeline.from_events([])


def test_encoding_round_trips_exactly() -> None:
    events = [
        *story(),
        # Microseconds, another offset and a kept note all need the encoding's extra section.
        event("e11", "DELIVER", "fail", EMS, "2025-03-21T01:02:03.456789+00:00", "地址不详，投递失败"),
    ]
    timeline = CaseTimeline.from_events(events)
    decoded = CaseTimeline.decode(timeline.encode())
    assert decoded == timeline
    assert decoded.encode() == timeline.encode()
    assert list(decoded.events()) == list(timeline.events())
    assert (decoded.case_id, decoded.matter_code, decoded.mode) == ("C1", MATTER, timeline.mode)
    last = list(decoded.events())[-1]
    assert last[3].isoformat() == "2025-03-21T01:02:03.456789+00:00"
    assert last[4] == "地址不详，投递失败"
    assert decoded.last_event_at == datetime(2025, 3, 21, 1, 2, 3, 456789, tzinfo=UTC)


def test_only_send_back_and_failure_notes_are_kept() -> None:
    timeline = CaseTimeline.from_events([event("n", "ACCEPT", "complete", RCV, "2025-03-03T10:00:00+08:00", "已收件")])
    assert next(timeline.events())[4] is None


def test_a_fourteen_step_case_encodes_in_a_few_hundred_bytes() -> None:
    events = []
    orgs = (RCV, HDL, EMS)
    moment = datetime(2025, 3, 3, 9, tzinfo=CST)
    for index, step in enumerate(StepKind):
        org = orgs[index % 3]
        for action in ("start", "complete"):
            event_id = f"evt-2025-03-03-case-000123-{step.value.lower()}-{action}"
            events.append(event(event_id, step.value, action, org, moment.isoformat()))
            moment += timedelta(hours=3)
    encoded = CaseTimeline.from_events(events).encode()
    # 26 events at 12 bytes + 3 organisations with Chinese names + the header.
    assert len(encoded) < 600, len(encoded)


def test_steps_measure_each_step_against_the_catalog() -> None:
    records = {r.step: r for r in CaseTimeline.from_events(story()).steps(default_catalog())}
    assert list(records) == [StepKind.ACCEPT, StepKind.TRANSFER, StepKind.REVIEW, StepKind.DELIVER]

    accept = records[StepKind.ACCEPT]
    assert accept.org == OrgRef(RCV["code"], RCV["name"], "310000", Role.RECEIVING)
    assert accept.working_days == pytest.approx(1 / 24)
    assert not accept.breached

    transfer = records[StepKind.TRANSFER]
    assert transfer.limit_days == 3 and transfer.breached
    assert transfer.working_days == pytest.approx(9 + 2 / 24)
    assert transfer.completed_at == datetime(2025, 3, 14, 12, tzinfo=CST)
    handoff = transfer.handoff
    assert handoff is not None and handoff.cross_province
    assert (handoff.sender.province, handoff.receiver and handoff.receiver.province) == ("310000", "340000")
    assert handoff.transit_days == pytest.approx(9.0)
    assert handoff.dispatch_days == pytest.approx(2 / 24)

    review = records[StepKind.REVIEW]
    # Mon 09:00 → Thu 09:00 is 3 days, less the 1.75 the citizen spent correcting (补正不计时).
    assert review.working_days == pytest.approx(1.25)
    assert (review.returns, review.fails, review.notes) == (1, 0, ("缺少出生医学证明原件",))
    assert review.org.code == HDL["code"] and not review.breached
    assert review.catalog_role == Role.HANDLING

    deliver = records[StepKind.DELIVER]
    assert deliver.completed_at is None and deliver.working_days is None and not deliver.breached


def test_as_of_ignores_later_events_and_measures_open_steps() -> None:
    timeline = CaseTimeline.from_events(story())
    records = {r.step: r for r in timeline.steps(default_catalog(), as_of=datetime(2025, 3, 10, 12, tzinfo=CST))}
    assert list(records) == [StepKind.ACCEPT, StepKind.TRANSFER]
    transfer = records[StepKind.TRANSFER]
    assert transfer.completed_at is None
    assert transfer.working_days == pytest.approx(5 + 2 / 24)  # still in transit, already late
    assert transfer.breached
    assert transfer.handoff is not None and transfer.handoff.receiver is None
    assert transfer.handoff.transit_days == pytest.approx(5.0)

    later = {r.step: r for r in timeline.steps(default_catalog(), as_of=datetime(2025, 3, 31, 10, tzinfo=CST))}
    assert later[StepKind.DELIVER].working_days == pytest.approx(7.0)
    assert later[StepKind.DELIVER].breached  # limit 5


def test_a_step_without_a_start_begins_at_the_previous_event() -> None:
    events = [
        event("a", "ACCEPT", "complete", RCV, "2025-03-03T10:00:00+08:00"),
        event("b", "VERIFY", "complete", RCV, "2025-03-05T10:00:00+08:00"),
    ]
    verify = CaseTimeline.from_events(events).steps(default_catalog())[1]
    assert verify.started_at == datetime(2025, 3, 3, 10, tzinfo=CST)
    assert verify.working_days == pytest.approx(2.0)
    assert verify.breached  # VERIFY limit is 1


def test_failed_checks_are_counted() -> None:
    events = [
        event("i1", "IDENTITY", "start", RCV, "2025-03-03T09:00:00+08:00"),
        event("i2", "IDENTITY", "fail", RCV, "2025-03-03T09:01:00+08:00", "人脸识别比对未通过"),
        event("i3", "IDENTITY", "fail", RCV, "2025-03-03T09:02:00+08:00", "人脸识别比对未通过"),
    ]
    (identity,) = CaseTimeline.from_events(events).steps(default_catalog())
    assert identity.fails == 2 and identity.returns == 0
    assert identity.completed_at is None
    assert [action for _, action, *_ in CaseTimeline.from_events(events).events()] == [
        Action.START,
        Action.FAIL,
        Action.FAIL,
    ]


def _two_handoffs() -> list[CaseEvent]:
    return [
        event("e01", "TRANSFER", "transfer_out", RCV, "2025-03-03T09:00:00+08:00"),
        event("e02", "TRANSFER", "transfer_in", HDL, "2025-03-04T09:00:00+08:00"),
        event("e03", "REVIEW", "start", HDL, "2025-03-04T10:00:00+08:00"),
        event("e04", "REVIEW", "complete", HDL, "2025-04-04T10:00:00+08:00"),
        event("e05", "TRANSFER", "transfer_out", HDL, "2025-04-07T09:00:00+08:00"),
        event("e06", "TRANSFER", "transfer_in", RCV, "2025-04-07T15:00:00+08:00"),
    ]


def test_a_step_done_twice_counts_each_episode_not_the_span_between() -> None:
    # Materials out to Anhui (Mon 09:00 → Tue 09:00), a month of review, the result back
    # (Mon 7 Apr 09:00 → 15:00): 1 + 0.25 working days of transit, not 25.
    timeline = CaseTimeline.from_events(_two_handoffs())
    by_step = {record.step: record for record in timeline.steps(default_catalog())}
    transfer = by_step[StepKind.TRANSFER]
    assert transfer.working_days == pytest.approx(1.25, abs=1e-9)
    assert transfer.breached is False  # limit 3
    # 4 Mar 10:00 → 4 Apr 10:00: 22 working days and 14 hours, since 4 Apr 2025 is 清明.
    assert by_step[StepKind.REVIEW].working_days == pytest.approx(22 + 14 / 24, abs=1e-9)


def test_a_second_hand_off_still_open_is_measured_to_as_of() -> None:
    timeline = CaseTimeline.from_events(_two_handoffs()[:5])
    as_of = datetime(2025, 4, 9, 9, 0, tzinfo=CST)  # Wed: two working days after the second send
    (transfer,) = [r for r in timeline.steps(default_catalog(), as_of=as_of) if r.step == StepKind.TRANSFER]
    assert transfer.working_days == pytest.approx(3.0, abs=1e-9)
    assert transfer.completed_at is None


# -- province overrides: the shipped example shortens 户口迁移 REVIEW to 3 working days in 浙江 ----

HKQY = "HCP-GA-HKQY"  # 户口迁移, joint: REVIEW limit 5 nationally, 3 where a 浙江 office reviews
ZJ_RCV = {"code": "ZJ-RCV-01", "name": "杭州市西湖区政务服务中心", "province": "330000", "role": "RECEIVING"}
ZJ_HDL = {"code": "ZJ-HDL-GA", "name": "温州市公安局户政科", "province": "330000", "role": "HANDLING"}


def move(receiving: dict[str, str], handling: dict[str, str]) -> CaseTimeline:
    """A joint household move: accepted on Mon 3 March, reviewed Mon 10 → Fri 14 (4.0 working days)."""
    rows = [
        ("ACCEPT", "start", receiving, "2025-03-03T09:00:00+08:00"),
        ("ACCEPT", "complete", receiving, "2025-03-03T10:00:00+08:00"),
        ("REVIEW", "start", handling, "2025-03-10T09:00:00+08:00"),
        ("REVIEW", "complete", handling, "2025-03-14T09:00:00+08:00"),
    ]
    events = []
    for number, (step, action, org, at) in enumerate(rows):
        payload = {
            "schema": "hcp.case/1",
            "event_id": f"m{number}",
            "case_id": "M1",
            "matter_code": HKQY,
            "mode": "joint",
            "step": step,
            "action": action,
            "org": org,
            "at": at,
            "note": None,
        }
        events.append(CaseEvent.model_validate_json(json.dumps(payload)))
    return CaseTimeline.from_events(events)


def test_a_province_override_binds_the_province_whose_office_did_the_step() -> None:
    catalog = default_catalog()
    in_zhejiang = {r.step: r for r in move(RCV, ZJ_HDL).steps(catalog)}[StepKind.REVIEW]
    assert in_zhejiang.working_days == pytest.approx(4.0)
    assert (in_zhejiang.limit_days, in_zhejiang.breached, in_zhejiang.limit_province) == (3, True, "330000")
    assert in_zhejiang.catalog_role is Role.HANDLING
    assert in_zhejiang.overrun == pytest.approx(1 / 3)
    # The same four days reviewed in Anhui are within the national five.
    in_anhui = {r.step: r for r in move(RCV, HDL).steps(catalog)}[StepKind.REVIEW]
    assert in_anhui.working_days == pytest.approx(4.0)
    assert (in_anhui.limit_days, in_anhui.breached, in_anhui.limit_province) == (5, False, None)
    # A 浙江 window receiving the move does not bring 浙江's review limit: the review was Anhui's.
    received_in_zhejiang = {r.step: r for r in move(ZJ_RCV, HDL).steps(catalog)}
    assert (received_in_zhejiang[StepKind.REVIEW].limit_days, received_in_zhejiang[StepKind.REVIEW].breached) == (
        5,
        False,
    )
    accept = received_in_zhejiang[StepKind.ACCEPT]
    assert (accept.limit_days, accept.limit_province) == (1, None)  # not changed by the override


def test_the_worker_path_measures_the_same_provincial_limit() -> None:
    record = move(RCV, ZJ_HDL).step_record(StepKind.REVIEW, default_catalog())
    assert record is not None
    assert (record.limit_days, record.breached, record.limit_province) == (3, True, "330000")
    facts = move(RCV, HDL).step_facts(default_catalog(), only=StepKind.REVIEW)
    assert [(f.limit_days, f.breached) for f in facts] == [(5, False)]
