"""Tracing rules with exact expectations: contrast, negation, weights, timeline evidence, responsibility."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from haochaping.catalog import default_catalog, load_catalog
from haochaping.events import CaseEvent, RatingEvent
from haochaping.timeline import CaseTimeline
from haochaping.tracing import Attribution, trace
from haochaping.tracing.attribution import rounded_weights
from haochaping.tracing.reading import read_comment

CATALOG = default_catalog()
MATTER = "HCP-GA-XSEDJ"  # 新生儿户口登记 (proxy)
RCV = {"code": "SH-RCV-01", "name": "上海市浦东新区政务服务中心跨省通办专窗", "province": "310000", "role": "RECEIVING"}
HDL = {"code": "AH-HDL-GA", "name": "安徽省阜阳市公安局户政科", "province": "340000", "role": "HANDLING"}
EMS = {"code": "AH-EMS", "name": "中国邮政阜阳市分公司", "province": "340000", "role": "LOGISTICS"}


def rating(
    comment: str | None,
    level: int = 1,
    tags: tuple[str, ...] = (),
    step: str | None = None,
    case_id: str | None = "C1",
    channel: str = "app",
    rated_at: str = "2025-03-31T10:00:00+08:00",
) -> RatingEvent:
    payload = {
        "schema": "hcp.rating/1",
        "rating_id": "r1",
        "case_id": case_id,
        "matter_code": MATTER,
        "province": "310000",
        "channel": channel,
        "level": level,
        "tags": list(tags),
        "comment": comment,
        "step": step,
        "rated_at": rated_at,
        "rater": {"id": "u1", "real_name": True},
    }
    return RatingEvent.model_validate_json(json.dumps(payload))


def case(*rows: tuple[str, str, dict[str, str], str]) -> CaseTimeline:
    events = []
    for number, (step, action, org, at) in enumerate(rows):
        payload = {
            "schema": "hcp.case/1",
            "event_id": f"e{number}",
            "case_id": "C1",
            "matter_code": MATTER,
            "mode": "proxy",
            "step": step,
            "action": action,
            "org": org,
            "at": at,
            "note": None,
        }
        events.append(CaseEvent.model_validate_json(json.dumps(payload)))
    return CaseTimeline.from_events(events)


def slow_transfer(dispatch_day: int = 3, arrival_day: int = 14) -> CaseTimeline:
    """Accepted in Shanghai on Mon 3 March; sent to Anhui; received on `arrival_day`."""
    return case(
        ("ACCEPT", "start", RCV, "2025-03-03T09:00:00+08:00"),
        ("ACCEPT", "complete", RCV, "2025-03-03T10:00:00+08:00"),
        ("TRANSFER", "start", RCV, "2025-03-03T10:00:00+08:00"),
        ("TRANSFER", "transfer_out", RCV, f"2025-03-{dispatch_day:02d}T12:00:00+08:00"),
        ("TRANSFER", "transfer_in", HDL, f"2025-03-{arrival_day:02d}T12:00:00+08:00"),
        ("REVIEW", "start", HDL, "2025-03-17T09:00:00+08:00"),
        ("REVIEW", "complete", HDL, "2025-03-18T09:00:00+08:00"),
    )


def steps_of(attribution: Attribution) -> dict[str, float]:
    return {candidate.step: candidate.weight for candidate in attribution.steps}


def test_positive_ratings_are_not_attributed() -> None:
    wire = trace(rating("审核太慢了", level=3), slow_transfer(), CATALOG).to_wire()
    assert wire == {
        "rating_id": "r1",
        "negative": False,
        "step": None,
        "reason": None,
        "responsible": None,
        "steps": [],
        "confidence": 1.0,
        "evidence": [],
    }


def test_wire_shape_is_the_attribution_contract() -> None:
    wire = trace(rating("审核太慢了"), None, CATALOG).to_wire()
    assert list(wire) == ["rating_id", "negative", "step", "reason", "responsible", "steps", "confidence", "evidence"]
    assert set(wire["responsible"]) == {"role", "province", "org"}
    assert all(set(candidate) == {"step", "weight", "reason"} for candidate in wire["steps"])
    json.dumps(wire, ensure_ascii=False)


def test_contrast_puts_the_complaint_after_but() -> None:
    attribution = trace(rating("受理很快，但是审批拖了一个月"), None, CATALOG)
    assert (attribution.step, attribution.reason) == ("REVIEW", "DELAY")
    assert "ACCEPT" not in steps_of(attribution)


def test_concession_with_although() -> None:
    attribution = trace(rating("虽然窗口很热情，但是审核标准两地不一样，退回了两次"), None, CATALOG)
    assert (attribution.step, attribution.reason) == ("REVIEW", "STANDARD_MISMATCH")


def test_negation_exonerates_a_step() -> None:
    attribution = trace(rating("不是窗口的问题，是邮寄太慢", step="ACCEPT"), None, CATALOG)
    assert (attribution.step, attribution.reason) == ("DELIVER", "DELIVERY_PROBLEM")
    assert "ACCEPT" not in steps_of(attribution)  # the portal step is exonerated too
    assert "text:窗口 (not ACCEPT)" in attribution.evidence


def test_two_steps_split_the_weight_exactly() -> None:
    attribution = trace(rating("审核慢，邮寄也慢"), None, CATALOG)
    weights = steps_of(attribution)
    assert set(weights) == {"REVIEW", "DELIVER"}
    assert weights["REVIEW"] == weights["DELIVER"] == 0.5
    assert attribution.step == "REVIEW"  # equal scores: the first named


def test_weights_are_four_decimals_summing_to_one() -> None:
    for comment in ("快递寄丢了，短信也没收到", "窗口态度差，审核又拖了二十天", "人脸识别老失败，电子证照也调不出来"):
        attribution = trace(rating(comment, step="NOTIFY"), slow_transfer(), CATALOG)
        weights = [Decimal(str(candidate.weight)) for candidate in attribution.steps]
        assert sum(weights) == Decimal(1)
        assert all(weight == weight.quantize(Decimal("0.0001")) for weight in weights)
    assert rounded_weights([1, 1, 1]) == [0.3334, 0.3333, 0.3333]


def test_no_evidence_is_unknown_not_a_guess() -> None:
    for comment in ("不满意", "差评！！！", None, "。。。"):
        attribution = trace(rating(comment, case_id=None), None, CATALOG)
        assert attribution.step == "UNKNOWN"
        assert attribution.responsible is None and attribution.confidence == 0.0
        assert attribution.steps[0].weight == 1.0
    # A vague complaint keeps its reason.
    assert trace(rating("太慢了", case_id=None), None, CATALOG).reason == "DELAY"


# Where each channel collects ratings (一次一评): the touchpoint a portal would send as `step`.
TOUCHPOINTS = {
    "pc": "APPLY",
    "app": "SUBMIT",
    "mini_program": "IDENTITY",
    "window": "ACCEPT",
    "kiosk": "DELIVER",
    "hotline": "GUIDE",
    "sms": "NOTIFY",
}
ROLE_IN_PROXY_MODE = {
    "APPLY": "PLATFORM",
    "SUBMIT": "RECEIVING",
    "IDENTITY": "RECEIVING",
    "ACCEPT": "RECEIVING",
    "DELIVER": "LOGISTICS",
    "GUIDE": "RECEIVING",
    "NOTIFY": "PLATFORM",
}


@pytest.mark.parametrize("channel", sorted(TOUCHPOINTS))
def test_a_vague_rating_is_traced_to_the_step_the_portal_collected_it_at(channel: str) -> None:
    step = TOUCHPOINTS[channel]
    for comment in ("不满意", "差评！！！", None, "太差了，服了", "。。。"):
        attribution = trace(rating(comment, step=step, channel=channel, case_id=None), None, CATALOG)
        assert attribution.step == step, (channel, comment)
        assert f"portal_step:{step}" in attribution.evidence
        assert attribution.responsible is not None
        assert attribution.responsible.role == ROLE_IN_PROXY_MODE[step]
        assert attribution.confidence > 0.0


@pytest.mark.parametrize("channel", sorted(TOUCHPOINTS))
def test_a_step_the_text_names_wins_over_the_portal_step(channel: str) -> None:
    portal = TOUCHPOINTS[channel]
    named, comment = ("PAYMENT", "缴费的时候扣了两次钱") if portal != "PAYMENT" else ("REVIEW", "审核拖了一个月")
    attribution = trace(rating(comment, step=portal, channel=channel, case_id=None), None, CATALOG)
    assert attribution.step == named, (channel, attribution.steps)


def test_a_timeline_breach_outweighs_the_portal_step_of_a_vague_rating() -> None:
    attribution = trace(rating("太慢了", step="NOTIFY"), slow_transfer(), CATALOG)
    assert attribution.step == "TRANSFER"


def test_timeline_breach_resolves_a_vague_comment() -> None:
    attribution = trace(rating("太慢了"), slow_transfer(), CATALOG)
    assert (attribution.step, attribution.reason) == ("TRANSFER", "DELAY")
    assert "timeline:TRANSFER took 9.1 working days (limit 3)" in attribution.evidence


def test_explicit_words_outweigh_a_timeline_hint_elsewhere() -> None:
    attribution = trace(rating("快递寄丢了"), slow_transfer(), CATALOG)
    assert (attribution.step, attribution.reason) == ("DELIVER", "DELIVERY_PROBLEM")
    assert steps_of(attribution)["DELIVER"] > steps_of(attribution)["TRANSFER"]


def test_responsible_is_the_organisation_that_did_the_step() -> None:
    attribution = trace(rating("审核太慢了"), slow_transfer(), CATALOG)
    assert attribution.step == "REVIEW"
    assert attribution.responsible is not None
    assert attribution.responsible.to_wire() == {"role": "HANDLING", "province": "340000", "org": "AH-HDL-GA"}


def test_cross_province_handoff_names_both_sides_and_blames_the_late_one() -> None:
    # Sent on time, received nine working days later: the receiving side.
    late_in = trace(rating("太慢了"), slow_transfer(), CATALOG)
    assert "handoff:310000→340000 took 9.0 working days" in late_in.evidence
    assert late_in.responsible is not None
    assert late_in.responsible.to_wire() == {"role": "HANDLING", "province": "340000", "org": "AH-HDL-GA"}
    # Held six working days before sending, then received the next day: the sender.
    late_out = trace(rating("太慢了"), slow_transfer(dispatch_day=11, arrival_day=12), CATALOG)
    assert late_out.step == "TRANSFER"
    assert late_out.responsible is not None
    assert late_out.responsible.to_wire() == {"role": "RECEIVING", "province": "310000", "org": "SH-RCV-01"}
    assert any(line.startswith("handoff:310000 held it") for line in late_out.evidence)


def test_without_a_timeline_the_catalog_role_answers() -> None:
    attribution = trace(rating("审核太慢了", case_id=None), None, CATALOG)
    assert attribution.responsible is not None
    assert (attribution.responsible.role, attribution.responsible.org) == ("HANDLING", None)
    # The province is unknown; the rating's stands in and confidence drops.
    assert attribution.responsible.province == "310000"
    assert any(line.startswith("responsible:HANDLING province unknown") for line in attribution.evidence)
    receiving = trace(rating("窗口态度太差", case_id=None), None, CATALOG)
    assert receiving.responsible is not None
    assert receiving.responsible.to_wire() == {"role": "RECEIVING", "province": "310000", "org": None}


def test_send_backs_and_failed_checks_are_evidence() -> None:
    timeline = case(
        ("IDENTITY", "start", RCV, "2025-03-03T09:00:00+08:00"),
        ("IDENTITY", "fail", RCV, "2025-03-03T09:01:00+08:00"),
        ("IDENTITY", "fail", RCV, "2025-03-03T09:02:00+08:00"),
    )
    attribution = trace(rating("搞了半天", rated_at="2025-03-03T10:00:00+08:00"), timeline, CATALOG)
    assert (attribution.step, attribution.reason) == ("IDENTITY", "IDENTITY_FAIL")
    assert "timeline:IDENTITY failed 2 times" in attribution.evidence


def test_tags_and_portal_step_are_evidence() -> None:
    attribution = trace(rating(None, tags=("IDENTITY_FAIL",), case_id=None), None, CATALOG)
    assert (attribution.step, attribution.reason) == ("IDENTITY", "IDENTITY_FAIL")
    assert "tag:IDENTITY_FAIL" in attribution.evidence
    with_portal = trace(rating("窗口态度差", step="ACCEPT", tags=("ATTITUDE",)), None, CATALOG)
    assert with_portal.step == "ACCEPT"
    assert {"portal_step:ACCEPT", "tag:ATTITUDE", "text:窗口"} <= set(with_portal.evidence)


@pytest.mark.parametrize(
    ("comment", "step"),
    [
        ("審核太慢了", "REVIEW"),  # traditional characters
        ("审合太慢", "REVIEW"),  # 审核 mistyped
        ("油寄的证件到手是破的", "DELIVER"),  # 邮寄 mistyped
        ("登陆不上", "IDENTITY"),  # 登录 as people write it
        ("跑了三趟才办成", "JOURNEY"),
        ("异地就医报销比例比本地低太多", "POLICY"),
        ("ＥＭＳ单号查不到物流信息", "DELIVER"),  # full-width letters
    ],
)
def test_spelling_variants(comment: str, step: str) -> None:
    assert trace(rating(comment, case_id=None), None, CATALOG).step == step


def test_policy_names_the_handling_side_without_an_org() -> None:
    attribution = trace(rating("两地政策不一样，报销比例差太多"), slow_transfer(), CATALOG)
    assert (attribution.step, attribution.reason) == ("POLICY", "POLICY_DIFFERENCE")
    assert attribution.responsible is not None
    assert attribution.responsible.to_wire() == {"role": "HANDLING", "province": "340000", "org": None}


def test_tracing_is_deterministic() -> None:
    comments = ["受理很快，但是审批拖了一个月", "太慢了", "快递寄丢了，短信也没收到", None]
    first = [trace(rating(c), slow_transfer(), CATALOG).to_wire() for c in comments]
    second = [trace(rating(c), CaseTimeline.decode(slow_transfer().encode()), CATALOG).to_wire() for c in comments]
    assert first == second


def test_a_timeline_of_another_case_is_an_error() -> None:
    with pytest.raises(ValueError, match="not C1"):
        trace(rating("太慢了", case_id="C9"), slow_transfer(), CATALOG)


def test_reading_attaches_praise_and_complaints_to_the_right_step() -> None:
    reading = read_comment("受理很快审批却拖了一个月")
    assert reading.labels == pytest.approx({"REVIEW": 1.5})  # praised 受理 is no candidate
    assert reading.label_reasons["REVIEW"] == pytest.approx({"DELAY": 1.5})


def wire_of(comment: str) -> dict[str, Any]:
    return trace(rating(comment, case_id=None), None, CATALOG).to_wire()


def test_confidence_is_between_zero_and_one() -> None:
    for comment in ("审核太慢了", "跑了三趟", "不满意", "窗口", "审核慢，邮寄也慢"):
        assert 0.0 <= wire_of(comment)["confidence"] <= 1.0


# -- province overrides ---------------------------------------------------------------------------

ZJ_HDL = {"code": "ZJ-HDL-GA", "name": "温州市公安局户政科", "province": "330000", "role": "HANDLING"}


def household_move(handling: dict[str, str]) -> tuple[RatingEvent, CaseTimeline]:
    """户口迁移 (joint) received in Shanghai, reviewed Mon 10 → Fri 14 March: 4.0 working days."""
    rows = [
        ("ACCEPT", "complete", RCV, "2025-03-03T10:00:00+08:00"),
        ("REVIEW", "start", handling, "2025-03-10T09:00:00+08:00"),
        ("REVIEW", "complete", handling, "2025-03-14T09:00:00+08:00"),
    ]
    events = []
    for number, (step, action, org, at) in enumerate(rows):
        payload = {
            "schema": "hcp.case/1",
            "event_id": f"h{number}",
            "case_id": "C1",
            "matter_code": "HCP-GA-HKQY",
            "mode": "joint",
            "step": step,
            "action": action,
            "org": org,
            "at": at,
            "note": None,
        }
        events.append(CaseEvent.model_validate_json(json.dumps(payload)))
    payload = rating("太慢了", rated_at="2025-03-17T10:00:00+08:00").model_dump(mode="json")
    payload["matter_code"] = "HCP-GA-HKQY"
    return RatingEvent.model_validate_json(json.dumps(payload)), CaseTimeline.from_events(events)


def test_a_review_late_by_its_provinces_own_limit_is_the_complaint() -> None:
    # The shipped example: 浙江 reviews 户口迁移 moves in 3 working days, the nation in 5.
    attribution = trace(*household_move(ZJ_HDL), CATALOG)
    assert (attribution.step, attribution.reason) == ("REVIEW", "DELAY")
    assert "timeline:REVIEW took 4.0 working days (limit 3 in 330000)" in attribution.evidence
    assert attribution.responsible is not None
    assert attribution.responsible.to_wire() == {"role": "HANDLING", "province": "330000", "org": "ZJ-HDL-GA"}
    # The same four days in Anhui are within the national limit: nothing on the timeline to blame.
    in_anhui = trace(*household_move(HDL), CATALOG)
    assert in_anhui.step == "UNKNOWN"
    assert not any(line.startswith("timeline:") for line in in_anhui.evidence)


ROLE_OVERRIDE = """
[[matters]]
code = "HCP-GA-XSEDJ"
name = "新生儿户口登记"
department = "公安部门"
modes = ["proxy"]

[matters.processes]
proxy = [
  { step = "ACCEPT", role = "RECEIVING", limit_days = 1 },
  { step = "TRANSFER", role = "RECEIVING", limit_days = 3 },
  { step = "REVIEW", role = "HANDLING", limit_days = 5 },
  { step = "DECIDE", role = "HANDLING", limit_days = 2 },
]

# A province where the receiving window reviews and decides (an invented arrangement for the test).
[[matters.overrides]]
province = "PROVINCE"
mode = "proxy"
steps = [{ step = "REVIEW", role = "RECEIVING" }, { step = "DECIDE", role = "RECEIVING" }]

[generic]
""" + "\n".join(
    f'{mode} = [{{ step = "ACCEPT", role = "RECEIVING", limit_days = 1 }}]'
    for mode in ("online", "proxy", "joint", "local")
)


def test_without_a_record_the_role_comes_from_the_province_that_would_do_the_step(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    # No case: only the rating's province is known, so its process says who reviews.
    path.write_text(ROLE_OVERRIDE.replace("PROVINCE", "310000"), encoding="utf-8")
    shanghai = load_catalog(path)
    attribution = trace(rating("审核太慢了", case_id=None), None, shanghai)
    assert attribution.responsible is not None
    assert attribution.responsible.to_wire() == {"role": "RECEIVING", "province": "310000", "org": None}
    national = trace(rating("审核太慢了", case_id=None), None, CATALOG)
    assert national.responsible is not None and national.responsible.role == "HANDLING"

    # A case reviewed in Anhui and not decided yet: DECIDE's national role is HANDLING, the case's
    # HANDLING office is Anhui's, so Anhui's process says who decides.
    reviewed = case(
        ("ACCEPT", "complete", RCV, "2025-03-03T10:00:00+08:00"),
        ("REVIEW", "start", HDL, "2025-03-05T09:00:00+08:00"),
        ("REVIEW", "complete", HDL, "2025-03-05T12:00:00+08:00"),
    )
    path.write_text(ROLE_OVERRIDE.replace("PROVINCE", "340000"), encoding="utf-8")
    anhui = load_catalog(path)
    waiting = trace(rating("审批结果迟迟不出"), reviewed, anhui)
    assert waiting.step == "DECIDE"
    assert waiting.responsible is not None
    assert waiting.responsible.to_wire() == {"role": "RECEIVING", "province": "310000", "org": None}
    # Shanghai's override does not apply: Shanghai is not where this case is decided.
    elsewhere = trace(rating("审批结果迟迟不出"), reviewed, shanghai)
    assert elsewhere.responsible is not None
    assert elsewhere.responsible.to_wire() == {"role": "HANDLING", "province": "340000", "org": None}
    # A step the case has a record of is answered by its organisation, whatever the role says.
    done = trace(rating("审核太慢了"), reviewed, anhui)
    assert done.responsible is not None and done.responsible.org == "AH-HDL-GA"


def test_a_vague_rating_over_a_send_back_at_review_is_the_review_and_its_province() -> None:
    timeline = case(
        ("ACCEPT", "start", RCV, "2025-03-03T09:00:00+08:00"),
        ("ACCEPT", "complete", RCV, "2025-03-03T10:00:00+08:00"),
        ("TRANSFER", "transfer_out", RCV, "2025-03-03T12:00:00+08:00"),
        ("TRANSFER", "transfer_in", HDL, "2025-03-04T09:00:00+08:00"),
        ("REVIEW", "start", HDL, "2025-03-04T10:00:00+08:00"),
        ("REVIEW", "return", HDL, "2025-03-05T10:00:00+08:00"),
    )
    attribution = trace(rating("烦死了", rated_at="2025-03-06T10:00:00+08:00"), timeline, CATALOG)
    # Shanghai accepted what Anhui sent back: two provinces' standards.
    assert (attribution.step, attribution.reason) == ("REVIEW", "STANDARD_MISMATCH")
    assert "timeline:REVIEW sent back once" in attribution.evidence
    assert attribution.responsible is not None
    assert attribution.responsible.to_wire() == {"role": "HANDLING", "province": "340000", "org": "AH-HDL-GA"}
