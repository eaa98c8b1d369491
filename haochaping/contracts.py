"""JSON Schemas (draft 2020-12) of the wire contracts: inbound from the pydantic models, Attribution by hand.

Pure (the models, codes, the decoder's size limit); `hcp contracts` writes docs/schemas/, docs/contracts.md explains.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from haochaping.codes import PROVINCES, AttributionLabel, Reason, Role, StepKind
from haochaping.decoding import MAX_MESSAGE_BYTES
from haochaping.events import (
    EARLIEST_EVENT_TIME,
    LATEST_EVENT_TIME,
    CaseEvent,
    RatingEvent,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_URI = "https://haochaping.example/schemas/"
IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"  # the models' Identifier (haochaping/events.py)
# RFC 3339 date-time with its offset. The models accept a few more spellings (a space for the T,
# no seconds); producers must not rely on that.
RFC3339_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"

_TIME = (
    f"RFC 3339 with offset, from {EARLIEST_EVENT_TIME.isoformat()} (好差评 began in 2019) up to, not including, "
    f"{LATEST_EVENT_TIME.isoformat()} (later is a clock error); the schema cannot check the range, the worker does"
)
_PROVINCE = "GB/T 2260 province-level code (PROVINCES in haochaping/codes.py)"


class ContractError(RuntimeError):
    """The models changed in a way the amendments below do not expect: look before regenerating."""


def rating_schema() -> dict[str, Any]:
    """hcp.rating/1 from RatingEvent, with what its validators check and pydantic cannot express."""
    schema = RatingEvent.model_json_schema(by_alias=True, mode="validation")
    _amend(schema, ("properties", "province"), enum=list(PROVINCES), description=_PROVINCE)
    _amend(schema, ("properties", "rated_at"), pattern=RFC3339_PATTERN, description=_TIME)
    _amend(
        schema,
        ("properties", "level"),
        description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意; ≤ 2 is a 差评. "
        "Write an integer: 5.0 is refused",
    )
    _amend(
        schema,
        ("properties", "case_id"),
        description="办件编号; null for a rating without a case (e.g. a 12345 hotline rating). The record key",
    )
    _amend(schema, ("properties", "tags"), description="reason codes the rater chose; may be empty")
    _amend(schema, ("properties", "step"), description="the step the portal says the rating was given at, or null")
    return _published(
        "hcp.rating-1.json",
        schema,
        "RatingEvent (hcp.rating/1): one rating, published by a province portal on <prefix>ratings.<province code> "
        f"(or by the national relay on <prefix>ratings). Record key: case_id, or rating_id when case_id is null. "
        f"At most {MAX_MESSAGE_BYTES} bytes of UTF-8 JSON. docs/contracts.md",
    )


def case_schema() -> dict[str, Any]:
    """hcp.case/1 from CaseEvent, with what its validators check and pydantic cannot express."""
    schema = CaseEvent.model_json_schema(by_alias=True, mode="validation")
    _amend(schema, ("$defs", "Organisation", "properties", "province"), enum=list(PROVINCES), description=_PROVINCE)
    _amend(schema, ("properties", "at"), pattern=RFC3339_PATTERN, description=_TIME)
    _amend(
        schema,
        ("$defs", "Action"),
        description="return: sent back for correction (退回补正); fail: a failed check; "
        "transfer_out / transfer_in bracket a hand-off between organisations",
    )
    return _published(
        "hcp.case-1.json",
        schema,
        "CaseEvent (hcp.case/1): one step of a case's process (办件过程), published by an office system on "
        f"<prefix>case-events. Record key: case_id. At most {MAX_MESSAGE_BYTES} bytes of UTF-8 JSON. "
        "docs/contracts.md",
    )


def attribution_schema() -> dict[str, Any]:
    """The Attribution the worker publishes on <prefix>attributions (haochaping/tracing/attribution.py to_wire)."""
    labels = [*(step.value for step in StepKind), *(label.value for label in AttributionLabel)]
    schema: dict[str, Any] = {
        "$defs": {
            "Label": {
                "description": "a step kind, or JOURNEY (the whole trip), POLICY (a policy difference), UNKNOWN",
                "enum": labels,
                "type": "string",
            },
            "Reason": {"description": "差评原因", "enum": [reason.value for reason in Reason], "type": "string"},
            "Responsible": {
                "additionalProperties": False,
                "description": "POLICY: the handling province at role level (org null). "
                "JOURNEY and UNKNOWN have no responsible organisation",
                "properties": {
                    "role": {"enum": [role.value for role in Role], "type": "string"},
                    "province": {"description": _PROVINCE, "enum": list(PROVINCES), "type": "string"},
                    "org": {
                        "anyOf": [{"pattern": IDENTIFIER_PATTERN, "type": "string"}, {"type": "null"}],
                        "description": "org.code from the case's events; null when only the role is known",
                    },
                },
                "required": ["role", "province", "org"],
                "type": "object",
            },
            "Candidate": {
                "additionalProperties": False,
                "properties": {
                    "step": {"$ref": "#/$defs/Label"},
                    "weight": {
                        "description": "a multiple of 0.0001; a message's weights sum to exactly 1",
                        "maximum": 1,
                        "minimum": 0,
                        "type": "number",
                    },
                    "reason": {"$ref": "#/$defs/Reason"},
                },
                "required": ["step", "weight", "reason"],
                "type": "object",
            },
        },
        "additionalProperties": False,
        "properties": {
            "rating_id": {"pattern": IDENTIFIER_PATTERN, "type": "string"},
            "negative": {"description": "level ≤ 2 (a 差评); only 差评 are traced", "type": "boolean"},
            "step": {**nullable("Label"), "description": "the primary label, steps[0].step; null if not negative"},
            "reason": {**nullable("Reason"), "description": "steps[0].reason; null if not negative"},
            "responsible": {**nullable("Responsible"), "description": "who answers for the step, or null"},
            "steps": {
                "description": "every candidate, strongest first; empty if not negative",
                "items": {"$ref": "#/$defs/Candidate"},
                "type": "array",
            },
            "confidence": {
                "description": "1.0 for a rating that is not negative (nothing to trace); 0.0 for UNKNOWN",
                "maximum": 1,
                "minimum": 0,
                "type": "number",
            },
            "evidence": {
                "description": "what tracing used, each line prefixed text:, tag:, portal_step:, timeline:, handoff:, "
                "responsible: or calendar:; empty if not negative",
                "items": {"type": "string"},
                "type": "array",
            },
        },
        "required": ["rating_id", "negative", "step", "reason", "responsible", "steps", "confidence", "evidence"],
        "if": {"properties": {"negative": {"const": False}}},
        "then": {
            "properties": {
                "step": {"type": "null"},
                "reason": {"type": "null"},
                "responsible": {"type": "null"},
                "steps": {"maxItems": 0},
                "confidence": {"const": 1},
                "evidence": {"maxItems": 0},
            }
        },
        "else": {
            "properties": {
                "step": {"$ref": "#/$defs/Label"},
                "reason": {"$ref": "#/$defs/Reason"},
                "steps": {"minItems": 1},
            }
        },
        "title": "Attribution",
        "type": "object",
    }
    return _published(
        "hcp.attribution-1.json",
        schema,
        "Attribution: what tracing says about one rating, published by the worker on <prefix>attributions "
        "(one JSON line per rating from `hcp trace`). Record key: the rating's key (case_id, else rating_id). "
        "docs/contracts.md",
    )


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "rating": rating_schema,
    "case": case_schema,
    "attribution": attribution_schema,
}


def nullable(definition: str) -> dict[str, Any]:
    return {"anyOf": [{"$ref": f"#/$defs/{definition}"}, {"type": "null"}]}


def file_name(name: str) -> str:
    """The schema file of a contract: rating -> hcp.rating-1.json."""
    return f"hcp.{name}-1.json"


def render(schema: dict[str, Any]) -> str:
    """The text of a schema file: two-space indents, Chinese as is, a trailing newline."""
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def rendered() -> dict[str, str]:
    """File name -> text, for every contract."""
    return {file_name(name): render(build()) for name, build in SCHEMAS.items()}


def _published(file: str, body: dict[str, Any], description: str) -> dict[str, Any]:
    schema = {"$schema": DIALECT, "$id": BASE_URI + file, **copy.deepcopy(body)}
    schema["description"] = description
    return schema


def _amend(schema: dict[str, Any], path: tuple[str, ...], **keywords: Any) -> None:
    """Add keywords at `path`; refuse to overwrite what pydantic now generates itself."""
    node: Any = schema
    for part in path:
        if not isinstance(node, dict) or part not in node:
            raise ContractError(f"the generated schema has no {'/'.join(path)}: has the model changed?")
        node = node[part]
    clash = sorted(set(keywords) & set(node))
    if clash:
        raise ContractError(f"pydantic now generates {', '.join(clash)} at {'/'.join(path)}: review the amendment")
    node.update(keywords)
