"""The wire contracts' JSON Schemas (docs/schemas/) and docs/contracts.md, held to the code.

Pure: jsonschema is not a dependency, so a small validator of exactly the keywords the schemas use stands in.
"""

from __future__ import annotations

import ctypes
import json
import math
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import murmur2

from cli.main import build_parser
from haochaping import contracts
from haochaping.catalog import default_catalog
from haochaping.codes import (
    LEVEL_LABELS,
    MODE_LABELS,
    PROVINCES,
    REASON_LABELS,
    STEP_LABELS,
    Action,
    AttributionLabel,
    Channel,
    Role,
    StepKind,
)
from haochaping.decoding import Rejection, decode_event
from haochaping.events import CaseEvent, RatingEvent
from haochaping.settings import Settings
from haochaping.timeline import CaseTimeline
from haochaping.tracing import trace
from streams.tables import partition_of

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "docs" / "schemas"
DOC = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
REAL_EVENTS = [ROOT / "tests" / "data" / "tracing_eval.jsonl", ROOT / "tests" / "data" / "tracing_holdout.jsonl"]


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / contracts.file_name(name)).read_text(encoding="utf-8"))
    return loaded


# -- a validator for the draft 2020-12 keywords the schemas use --------------------------------------

ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "format", "default"})
CHECKED = frozenset(
    {
        "$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "items",
        "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
        "anyOf", "if", "then", "else",
    }
)  # fmt: skip


def violations(schema: dict[str, Any], instance: Any, root: dict[str, Any] | None = None, at: str = "$") -> list[str]:
    """Where `instance` breaks `schema`, as "$.field.0: why" lines; [] if it is valid."""
    root = schema if root is None else root
    found: list[str] = []
    if "$ref" in schema:
        prefix = "#/$defs/"
        assert schema["$ref"].startswith(prefix), schema["$ref"]
        found += violations(root["$defs"][schema["$ref"][len(prefix) :]], instance, root, at)
    if "type" in schema and not _is_type(instance, schema["type"]):
        return [*found, f"{at}: not of type {schema['type']}"]
    if "enum" in schema and not any(_same(instance, value) for value in schema["enum"]):
        found.append(f"{at}: not one of the enum")
    if "const" in schema and not _same(instance, schema["const"]):
        found.append(f"{at}: not {schema['const']!r}")
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0) or len(instance) > schema.get("maxLength", math.inf):
            found.append(f"{at}: length {len(instance)}")
        if "pattern" in schema and re.search(_ecma(schema["pattern"]), instance) is None:
            found.append(f"{at}: does not match {schema['pattern']}")
    if _is_type(instance, "number") and not schema.get("minimum", -math.inf) <= instance <= schema.get(
        "maximum", math.inf
    ):
        found.append(f"{at}: out of range")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0) or len(instance) > schema.get("maxItems", math.inf):
            found.append(f"{at}: {len(instance)} items")
        if "items" in schema:
            for index, item in enumerate(instance):
                found += violations(schema["items"], item, root, f"{at}.{index}")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        found += [f"{at}.{name}: required" for name in schema.get("required", []) if name not in instance]
        for name, value in instance.items():
            if name in properties:
                found += violations(properties[name], value, root, f"{at}.{name}")
            elif schema.get("additionalProperties", True) is False:
                found.append(f"{at}.{name}: not allowed")
    if "anyOf" in schema and all(violations(branch, instance, root, at) for branch in schema["anyOf"]):
        found.append(f"{at}: matches none of anyOf")
    if "if" in schema:
        branch = "then" if not violations(schema["if"], instance, root, at) else "else"
        if branch in schema:
            found += violations(schema[branch], instance, root, at)
    return found


def _is_type(instance: Any, kind: str) -> bool:
    if kind == "integer":  # JSON Schema: any number with a zero fraction
        return (isinstance(instance, int) and not isinstance(instance, bool)) or (
            isinstance(instance, float) and instance.is_integer()
        )
    if kind == "number":
        return isinstance(instance, int | float) and not isinstance(instance, bool)
    types = {"string": str, "boolean": bool, "null": type(None), "array": list, "object": dict}
    return isinstance(instance, types[kind])


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is no number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _ecma(pattern: str) -> str:
    """ECMA-262's `$` (no multiline flag) ends the text; Python's also matches before a final newline."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern


def _subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(schema, dict):
        return
    yield schema
    for key in ("properties", "$defs"):
        for child in schema.get(key, {}).values():
            yield from _subschemas(child)
    for key in ("items", "additionalProperties", "if", "then", "else"):
        yield from _subschemas(schema.get(key))
    for child in schema.get("anyOf", []):
        yield from _subschemas(child)


# -- the committed files ----------------------------------------------------------------------------


def test_committed_schema_files_are_what_the_generator_writes() -> None:
    wanted = contracts.rendered()
    assert sorted(path.name for path in SCHEMA_DIR.iterdir()) == sorted(wanted)
    for name, text in wanted.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == text, f"run `.venv/bin/hcp contracts`: {name}"


def test_schemas_name_their_dialect_and_address() -> None:
    for name in contracts.SCHEMAS:
        schema = _schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"https://haochaping.example/schemas/hcp.{name}-1.json"


def test_the_test_validator_knows_every_keyword_the_schemas_use() -> None:
    used = {key for name in contracts.SCHEMAS for node in _subschemas(_schema(name)) for key in node}
    assert used - ANNOTATIONS - CHECKED == set()
    assert used >= CHECKED  # nothing checked here that the schemas do not need


def test_the_inbound_schemas_carry_the_validators_rules() -> None:
    rating, case = _schema("rating"), _schema("case")
    assert rating["properties"]["province"]["enum"] == list(PROVINCES)
    assert case["$defs"]["Organisation"]["properties"]["province"]["enum"] == list(PROVINCES)
    assert rating["properties"]["rated_at"]["pattern"] == contracts.RFC3339_PATTERN
    assert rating["properties"]["rating_id"]["pattern"] == contracts.IDENTIFIER_PATTERN
    for schema, model in ((rating, RatingEvent), (case, CaseEvent)):
        fields = model.model_fields
        assert list(schema["properties"]) == [field.alias or name for name, field in fields.items()]
        assert schema["required"] == [field.alias or name for name, field in fields.items() if field.is_required()]
    assert "note" not in case["required"] and "comment" in rating["required"]
    assert rating["additionalProperties"] is False and case["additionalProperties"] is False


def test_the_attribution_schema_has_the_fields_of_to_wire_in_order() -> None:
    schema = _schema("attribution")
    wire = trace(_doc_rating("transfer"), _doc_timeline("transfer"), default_catalog()).to_wire()
    assert list(schema["properties"]) == list(wire) == schema["required"]
    labels = [*(step.value for step in StepKind), *(label.value for label in AttributionLabel)]
    assert schema["$defs"]["Label"]["enum"] == labels
    assert list(schema["$defs"]["Responsible"]["properties"]) == list(wire["responsible"])
    assert list(schema["$defs"]["Candidate"]["properties"]) == list(wire["steps"][0])


# -- the examples of docs/contracts.md --------------------------------------------------------------

EXAMPLE = re.compile(
    r"<!-- example (?P<kind>rating|case|attribution)(?P<attrs>(?: [a-z]+=[a-z-]+)*) -->\n"
    r"```(?P<lang>jsonl?)\n(?P<body>.*?)\n```"
    r"(?:\n```text\nhcp-reason: (?P<reason>[^\n]*)\n```)?",
    re.DOTALL,
)


def _examples() -> list[tuple[str, dict[str, str], list[Any], str | None]]:
    found = []
    for match in EXAMPLE.finditer(DOC):
        attrs = dict(pair.split("=") for pair in match["attrs"].split())
        body = match["body"]
        values = [json.loads(line) for line in body.splitlines()] if match["lang"] == "jsonl" else [json.loads(body)]
        found.append((match["kind"], attrs, values, match["reason"]))
    return found


EXAMPLES = _examples()


def test_every_example_marker_is_read() -> None:
    assert len(EXAMPLES) == DOC.count("<!-- example ") == 16
    assert {kind for kind, *_ in EXAMPLES} == {"rating", "case", "attribution"}


@pytest.mark.parametrize(
    ("kind", "attrs", "values", "reason"),
    EXAMPLES,
    ids=[f"{kind}-{attrs.get('worker', 'out')}-{n}" for n, (kind, attrs, *_) in enumerate(EXAMPLES)],
)
def test_doc_examples_are_judged_as_the_doc_says(
    kind: str, attrs: dict[str, str], values: list[Any], reason: str | None
) -> None:
    schema = _schema(kind)
    for value in values:
        found = violations(schema, value)
        if attrs["schema"] == "valid":
            assert found == []
        else:
            assert attrs["schema"] == "invalid" and found
        if kind == "attribution":
            assert reason is None
            continue
        decoded = decode_event(json.dumps(value, ensure_ascii=False).encode("utf-8"), "rating" if kind == "rating" else "case")
        if attrs["worker"] == "accepted":
            assert reason is None
            assert isinstance(decoded, RatingEvent if kind == "rating" else CaseEvent), decoded
        else:
            assert attrs["worker"] == "refused" and reason is not None
            assert isinstance(decoded, Rejection) and str(decoded) == reason
            if found:  # the schema points at the fields the worker names
                named = set(re.findall(r"(?:^|; )([a-z_]+(?:\.[a-z0-9_]+)*): ", reason))
                assert named and named <= {line.split(": ")[0].removeprefix("$.") for line in found}, (named, found)


def _doc_values(kind: str, example_id: str) -> list[Any]:
    return [v for k, attrs, values, _ in EXAMPLES if k == kind and attrs.get("id") == example_id for v in values]


def _doc_rating(example_id: str) -> RatingEvent:
    (value,) = _doc_values("rating", example_id)
    rating = decode_event(json.dumps(value, ensure_ascii=False).encode("utf-8"), "rating")
    assert isinstance(rating, RatingEvent)
    return rating


def _doc_timeline(example_id: str) -> CaseTimeline | None:
    events = [decode_event(json.dumps(v, ensure_ascii=False).encode("utf-8"), "case") for v in _doc_values("case", example_id)]
    assert all(isinstance(event, CaseEvent) for event in events)
    return CaseTimeline.from_events(e for e in events if isinstance(e, CaseEvent)) if events else None


def test_doc_attributions_are_what_tracing_produces_for_the_doc_events() -> None:
    shown = [(attrs["traces"], values[0]) for kind, attrs, values, _ in EXAMPLES if kind == "attribution"]
    assert [example_id for example_id, _ in shown] == ["transfer", "hotline", "positive"]
    for example_id, attribution in shown:
        traced = trace(_doc_rating(example_id), _doc_timeline(example_id), default_catalog()).to_wire()
        assert traced == attribution, json.dumps(traced, ensure_ascii=False)


# -- real events and their attributions -------------------------------------------------------------


def test_the_evaluation_events_and_their_attributions_fit_the_schemas() -> None:
    rating_schema, case_schema, attribution_schema = (_schema(name) for name in ("rating", "case", "attribution"))
    catalog = default_catalog()
    lines = [line for path in REAL_EVENTS for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    negatives = case_events = 0
    for line in lines:
        record = json.loads(line)
        assert violations(rating_schema, record["rating"]) == [], record["rating"]["rating_id"]
        rating = decode_event(json.dumps(record["rating"], ensure_ascii=False).encode("utf-8"), "rating")
        assert isinstance(rating, RatingEvent)
        events = []
        for raw in record.get("case_events", []):
            assert violations(case_schema, raw) == [], raw["event_id"]
            event = decode_event(json.dumps(raw, ensure_ascii=False).encode("utf-8"), "case")
            assert isinstance(event, CaseEvent)
            events.append(event)
        case_events += len(events)
        timeline = CaseTimeline.from_events(events) if events else None
        wire = trace(rating, timeline, catalog).to_wire()
        assert violations(attribution_schema, wire) == [], wire
        negatives += wire["negative"]
    assert len(lines) == 430 and negatives > 300 and case_events > 100


# -- what both refuse, what both accept, where they differ ------------------------------------------


def _rating(**changes: Any) -> dict[str, Any]:
    (value,) = _doc_values("rating", "transfer")
    return {**value, **changes}


def _case(**changes: Any) -> dict[str, Any]:
    return {**_doc_values("case", "transfer")[0], **changes}


def _without(value: dict[str, Any], field: str) -> dict[str, Any]:
    return {name: item for name, item in value.items() if name != field}


REFUSED_BY_BOTH = [
    ("rating", _rating(level=0), "level"),
    ("rating", _rating(level=6), "level"),
    ("rating", _rating(level="1"), "level"),
    ("rating", _rating(level=True), "level"),
    ("rating", _rating(channel="WeChat"), "channel"),
    ("rating", _rating(comment="差" * 2001), "comment"),
    ("rating", _rating(tags=["DELAY"] * 19), "tags"),
    ("rating", _rating(rater={"id": "", "real_name": True}), "rater"),
    ("rating", _rating(rater={"id": "u1", "real_name": "yes"}), "rater"),
    ("rating", _rating(rater={"id": "u1", "real_name": True, "phone": "1"}), "rater"),
    ("rating", _without(_rating(), "case_id"), "case_id"),
    ("rating", _rating(case_id=""), "case_id"),
    ("rating", _rating(case_id="SH GJJ 2026"), "case_id"),
    ("rating", _rating(rating_id="R1\n"), "rating_id"),
    ("rating", _rating(rated_at="2026-11-18T20:15:00"), "rated_at"),
    ("rating", _rating(rated_at="2026-11-18"), "rated_at"),
    ("rating", _rating(schema="hcp.rating/2"), "schema"),
    ("rating", _rating(province="310100"), "province"),
    ("rating", _rating(step="WINDOW"), "step"),
    ("case", _case(note="注" * 501), "note"),
    ("case", _case(org={**_case()["org"], "name": ""}), "org"),
    ("case", _case(org={**_case()["org"], "province": "000000"}), "org"),
    ("case", _case(mode="remote"), "mode"),
    ("case", _case(step="JOURNEY"), "step"),
    ("case", _without(_case(), "org"), "org"),
    ("case", _case(at="2026-11-02T09:30:00"), "at"),
]

ACCEPTED_BY_BOTH = [
    ("rating", _rating(comment="差" * 2000)),
    ("rating", _rating(tags=["DELAY"] * 18)),
    ("rating", _rating(rated_at="2026-11-18T12:15:00Z")),
    ("rating", _rating(rated_at="2026-11-18T20:15:00.123456+08:00")),
    ("rating", _rating(rater=None, comment=None, case_id=None, level=2, province="820000")),
    ("case", _case(note="注" * 500)),
    ("case", _without(_case(), "note")),
]


@pytest.mark.parametrize(("kind", "value", "field"), REFUSED_BY_BOTH)
def test_refused_by_the_worker_and_the_schema(kind: str, value: dict[str, Any], field: str) -> None:
    assert isinstance(decode_event(json.dumps(value, ensure_ascii=False).encode("utf-8"), kind), Rejection)
    assert any(line.startswith(f"$.{field}") for line in violations(_schema(kind), value))


@pytest.mark.parametrize(("kind", "value"), ACCEPTED_BY_BOTH)
def test_accepted_by_the_worker_and_the_schema(kind: str, value: dict[str, Any]) -> None:
    assert not isinstance(decode_event(json.dumps(value, ensure_ascii=False).encode("utf-8"), kind), Rejection)
    assert violations(_schema(kind), value) == []


def test_spellings_only_the_worker_accepts_as_the_doc_says() -> None:
    assert "a\n  space instead of the `T` and times without seconds; do not rely on it." in DOC
    for stamp in ("2026-11-18 20:15:00+08:00", "2026-11-18T20:15+08:00"):
        value = _rating(rated_at=stamp)
        assert isinstance(decode_event(json.dumps(value, ensure_ascii=False).encode("utf-8"), "rating"), RatingEvent)
        assert violations(_schema("rating"), value) == [f"$.rated_at: does not match {contracts.RFC3339_PATTERN}"]


def test_attribution_schema_refuses_what_tracing_never_writes() -> None:
    schema = _schema("attribution")
    (positive,) = [
        values[0] for kind, attrs, values, _ in EXAMPLES if kind == "attribution" and attrs["traces"] == "positive"
    ]
    assert violations(schema, positive) == []
    assert violations(schema, {**positive, "steps": [{"step": "GUIDE", "weight": 1.0, "reason": "OTHER"}]}) == [
        "$.steps: 1 items"
    ]
    assert violations(schema, {**positive, "confidence": 0.5}) == ["$.confidence: not 1"]
    negative = {**positive, "negative": True}
    assert sorted(violations(schema, negative)) == [
        "$.reason: not of type string",
        "$.step: not of type string",
        "$.steps: 0 items",
    ]
    assert violations(schema, {**positive, "extra": 1}) == ["$.extra: not allowed"]


# -- the code tables and partitioning facts of docs/contracts.md ------------------------------------


def _section(heading: str) -> str:
    start = DOC.index(f"\n### {heading}")
    end = DOC.find("\n### ", start + 1)
    return DOC[start : end if end >= 0 else len(DOC)]


def test_code_tables_are_those_of_codes_py() -> None:
    row = r"\| `([^`]+)` \| ([^|]+?)(?: — attribution only)? \|"
    assert {int(code): label for code, label in re.findall(row, _section("Levels"))} == LEVEL_LABELS
    assert dict(re.findall(row, _section("Modes"))) == {mode.value: label for mode, label in MODE_LABELS.items()}
    assert dict(re.findall(row, _section("Step kinds"))) == STEP_LABELS
    assert dict(re.findall(row, _section("Reason codes"))) == REASON_LABELS
    assert dict(re.findall(r"`(\d{6})` \| ([^|]+?) \|", _section("Provinces"))) == PROVINCES
    for heading, codes in (("Channels", Channel), ("Actions", Action), ("Roles", Role)):
        assert [code for code, _ in re.findall(row, _section(heading))] == [code.value for code in codes]


def test_partition_test_vectors() -> None:
    rows = re.findall(r"\| `([^`]+)` \| `0x([0-9a-f]{8})` \| (\d+) \| (\d+) \| (\d+) \|", DOC)
    assert len(rows) == 5
    for key, hashed, of4, of12, crc in rows:
        raw = key.encode("utf-8")
        assert murmur2(raw) & 0xFFFFFFFF == int(hashed, 16)
        assert (partition_of(raw, 4), partition_of(raw, 12)) == (int(of4), int(of12))
        assert zlib.crc32(raw) % 4 == int(crc)
    assert any(int(hashed, 16) >= 1 << 31 for _, hashed, *_ in rows)  # a key sarama's arithmetic moves


def test_sarama_custom_hash_arithmetic_moves_the_share_the_doc_says() -> None:
    """sarama's hashPartitioner without WithAbsFirst: int32 remainder, negated if negative."""

    def sarama(key: bytes, partitions: int) -> int:
        signed = ctypes.c_int32(murmur2(key)).value
        return abs(int(math.fmod(signed, partitions)))

    keys = [f"C-{number:06d}".encode() for number in range(10_000)]
    moved = sum(sarama(key, 4) != partition_of(key, 4) for key in keys)
    assert moved == 2518
    assert "(2,518 of\n  10,000 case ids at 4 partitions)" in DOC


# -- the command ------------------------------------------------------------------------------------


def _run(*argv: str) -> int:
    args = build_parser().parse_args(["contracts", *argv])
    return int(args.run(args, Settings()))


def test_hcp_contracts_writes_checks_and_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schemas"
    assert _run("--check", "--out", str(out)) == 1
    assert _run("--out", str(out)) == 0
    assert {path.name: path.read_text(encoding="utf-8") for path in out.iterdir()} == contracts.rendered()
    assert _run("--check", "--out", str(out)) == 0
    (out / "hcp.case-1.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()
    assert _run("--check", "--out", str(out)) == 1
    assert capsys.readouterr().err == (
        f"hcp contracts: {out / 'hcp.case-1.json'} differs from the models (run `hcp contracts`)\n"
    )
    assert _run("--print", "rating") == 0
    assert capsys.readouterr().out == (SCHEMA_DIR / "hcp.rating-1.json").read_text(encoding="utf-8")
