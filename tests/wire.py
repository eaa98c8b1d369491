"""Hand-written wire events shared by tests (the contracts of DESIGN.md section 3)."""

from __future__ import annotations

import json
from typing import Any


def rating(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema": "hcp.rating/1",
        "rating_id": "R-0001",
        "case_id": "C-0001",
        "matter_code": "HCP-TEST",
        "province": "340000",
        "channel": "window",
        "level": 1,
        "tags": ["DELAY"],
        "comment": "材料寄过去半个月了，审批一直没动静，电话13812345678",
        "step": None,
        "rated_at": "2026-11-20T15:30:00+08:00",
        "rater": {"id": "citizen-42", "real_name": True},
    }
    event.update(changes)
    return event


def case_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema": "hcp.case/1",
        "event_id": "E-0001",
        "case_id": "C-0001",
        "matter_code": "HCP-TEST",
        "mode": "proxy",
        "step": "ACCEPT",
        "action": "complete",
        "org": {"code": "340100-ZWFW", "name": "合肥市政务服务中心", "province": "340000", "role": "RECEIVING"},
        "at": "2026-11-03T09:12:00+08:00",
        "note": None,
    }
    event.update(changes)
    return event


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")
