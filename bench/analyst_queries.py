"""The analysts' named queries on a fresh embedded ClickHouse holding N ratings (10 million by default).

Lives in bench/, outside the package. How the tables are filled:

1. **Template.** The real simulator (haochaping.simulation: all 34 provinces, every catalog matter
   and mode, its fault tables and Chinese comments) runs for 13 weeks of simulated time (plus two
   weeks of warm-up) and the real pipeline core (haochaping.ingest.Ingestor: timelines, tracing,
   observations) turns it into rows of `ratings`, `attributions`, `step_observations` and
   `case_steps` — about `--template-ratings` ratings with everything the worker would write.
2. **Copies, in ClickHouse.** The fresh chDB directory gets the real schema (sinks/schema.py, so the
   materialized views fill `step_stats_hourly` / `step_stats_daily` on every insert). Each copy c of
   the template is written with INSERT … SELECT, in chunks of copies: new ids, the provinces
   permuted within the simulator's province classes (residence-heavy, origin-heavy, the rest; a
   bijection per copy, so cross-province cases stay cross-province and every organisation is
   renamed to the right organisation of its new province), the times shifted by whole weeks with
   wrap-around inside the 13 weeks (weekday and office-hour patterns kept) plus a per-case jitter;
   steps a case would complete after the 13 weeks are not written (they have not happened yet).
   Every expression is a deterministic hash of (copy, template row), so a run is reproducible.
3. **Hotspot.** In the last 7 days one (province, matter, mode, step) gets `--hot-factor` times its
   complaint rate with one reason: positive ratings of cases through that step are turned into
   negatives blamed on it, consistently in every table (level, comment, tags, observation weight
   and reason, an attribution row, the step's send-back/breach/failed check). The bench asserts that
   `hcp report`'s top redesign priority is that hotspot with that reason.
4. **Timing.** After background merges settle, every named query runs through the same read-only
   handle `hcp report` uses (readonly=1, 60 s limit): a warm-up, then `--repeats` runs each.

    .venv/bin/python bench/analyst_queries.py --ratings 10000000 --dir /tmp/hcp-q10m
    .venv/bin/python bench/analyst_queries.py --dir /tmp/hcp-q10m --reuse      # time again
    .venv/bin/python bench/analyst_queries.py --smoke                         # < 2 min, proves it runs
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from haochaping.catalog import default_catalog  # noqa: E402
from haochaping.codes import PROVINCES, Reason, StepKind  # noqa: E402
from haochaping.ingest import Ingestor, Message  # noqa: E402
from haochaping.rows import TABLE_COLUMNS  # noqa: E402
from haochaping.simulation import SimulationConfig, Simulator  # noqa: E402
from haochaping.simulation.engine import ORIGIN_WEIGHTS, RESIDENCE_WEIGHTS  # noqa: E402
from haochaping.simulation.faults import Manifest, manifest_for  # noqa: E402
from haochaping.simulation.orgs import OrgBook  # noqa: E402
from sinks import reports  # noqa: E402
from sinks.alerts import ALERT_COLUMNS  # noqa: E402
from sinks.analytics import read_only_client  # noqa: E402
from sinks.clickhouse import open_clickhouse  # noqa: E402

BEIJING = reports.BEIJING
BEGIN = datetime(2026, 8, 3, tzinfo=BEIJING)  # a Monday, Beijing midnight
WEEKS = 13
END = BEGIN + timedelta(weeks=WEEKS)
WARM_UP = timedelta(days=14)
WEEK_S = 7 * 86_400
SPAN_S = WEEKS * WEEK_S
JITTER_S = 1800
RATINGS_PER_CASE = 0.8  # SimulationConfig.rating_share
RAW_TABLES = ("ratings", "attributions", "step_observations", "case_steps")
BENCH_DB = "hcp_bench"
UNKNOWN_DEPARTMENT = "政务服务中心"  # the simulator's department for matters outside the catalog
PROVINCE_LIST = tuple(PROVINCES)


@dataclass(frozen=True)
class Hotspot:
    province: str
    matter: str
    mode: str
    step: str
    reason: str
    factor: float
    since: datetime
    until: datetime


# -- 1. the template: the real simulator through the real pipeline core ------------------------------


@dataclass
class Template:
    rows: dict[str, list[tuple[object, ...]]]  # table -> rows, each with the helper columns appended
    ratings: int
    seconds: float
    events: int


HELPERS = {
    # ri: index of the rating in the template (spread over [0, T) for unrated cases) — which copy rows to take
    # rt: epoch seconds of the rating (of the last completed step for unrated cases): every time of the case is
    # shifted so that this one wraps around inside the 13 weeks; lvl: the rating's level (0: no rating);
    # hot_src: the template province of the org performing the hotspot step, if the case is the hotspot's
    # matter and mode
    "ri": "UInt32",
    "rt": "Int64",
    "lvl": "UInt8",
    "hot_src": "String",
    "cid": "String",  # the rating's case id ('' for hotline ratings)
    "rprov": "String",  # the rating's portal province
}


def build_template(target: int, seed: int, negative_share: float, hot: Hotspot) -> Template:
    started = time.perf_counter()
    catalog = default_catalog()
    span_hours = SPAN_S / 3600
    config = SimulationConfig(
        seed=seed,
        start=BEGIN - WARM_UP,
        provinces=PROVINCE_LIST,
        cases_per_hour=target / (RATINGS_PER_CASE * span_hours),
        negative_share=negative_share,
    )
    ingestor = Ingestor({"r": "rating", "c": "case"}, b"bench-pseudonym-key", catalog)
    store: dict[bytes, bytes] = {}
    rows: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    batch: list[Message] = []
    offsets = {"r": 0, "c": 0}
    events = 0

    def flush() -> None:
        produced = ingestor.process(batch, store)
        for table in RAW_TABLES:
            rows[table].extend(produced.rows.get(table, ()))
        batch.clear()

    for event in Simulator(catalog, config).events():
        if event.at >= END:
            break
        topic = "r" if event.kind == "rating" else "c"
        value = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":")).encode()
        batch.append(Message(topic, 0, offsets[topic], None, value))
        offsets[topic] += 1
        events += 1
        if len(batch) >= 10_000:
            flush()
            if events % 200_000 == 0:
                print(f"  template: {events:,} simulated events, {event.at:%Y-%m-%d}", file=sys.stderr, end="\r")
    flush()
    print(file=sys.stderr)
    return _with_helpers(rows, hot, events, time.perf_counter() - started)


def _epoch(moment: object) -> int:
    assert isinstance(moment, datetime)
    return int(moment.timestamp())


def _with_helpers(raw: dict[str, list[tuple[object, ...]]], hot: Hotspot, events: int, seconds: float) -> Template:
    col = {table: {name: i for i, name in enumerate(TABLE_COLUMNS[table])} for table in RAW_TABLES}
    begin, end = _epoch(BEGIN), _epoch(END)
    r, a, o, s = (col[t] for t in RAW_TABLES)
    ratings = [row for row in raw["ratings"] if begin <= _epoch(row[r["rated_at"]]) < end]
    by_rating = {row[r["rating_id"]]: (i, row) for i, row in enumerate(ratings)}
    steps_of: dict[object, list[tuple[object, ...]]] = defaultdict(list)
    for row in raw["case_steps"]:
        steps_of[row[s["case_id"]]].append(row)
    rated_before: set[object] = {row[r["case_id"]] for row in raw["ratings"] if _epoch(row[r["rated_at"]]) < begin}
    hot_src: dict[object, str] = {}
    for row in raw["step_observations"]:
        if row[o["matter_code"]] == hot.matter and row[o["mode"]] == hot.mode and row[o["step"]] == hot.step:
            hot_src[row[o["rating_id"]]] = str(row[o["province"]])

    helper: dict[object, tuple[object, ...]] = {}  # rating_id -> helper values
    case_helper: dict[object, tuple[object, ...]] = {}
    for rating_id, (index, row) in by_rating.items():
        case_id = row[r["case_id"]]
        rated = _epoch(row[r["rated_at"]])
        values = (
            index,
            rated,
            row[r["level"]],
            hot_src.get(rating_id, ""),
            case_id or "",
            row[r["province"]],
        )
        helper[rating_id] = values
        if case_id is not None:
            case_helper[case_id] = values
    unrated = sorted(
        case_id
        for case_id, steps in steps_of.items()
        if case_id not in case_helper
        and case_id not in rated_before
        and begin <= max(_epoch(step[s["completed_at"]]) for step in steps) < end
    )
    for i, case_id in enumerate(unrated):
        last = max(_epoch(step[s["completed_at"]]) for step in steps_of[case_id])
        case_helper[case_id] = (i * len(ratings) // max(len(unrated), 1), last, 0, "", case_id, "")

    rows = {
        "ratings": [row + helper[row[r["rating_id"]]] for row in ratings],
        "attributions": [
            row + helper[row[a["rating_id"]]] for row in raw["attributions"] if row[a["rating_id"]] in helper
        ],
        "step_observations": [
            row + helper[row[o["rating_id"]]] for row in raw["step_observations"] if row[o["rating_id"]] in helper
        ],
        "case_steps": [
            row + case_helper[row[s["case_id"]]] for row in raw["case_steps"] if row[s["case_id"]] in case_helper
        ],
    }
    return Template(rows, len(ratings), seconds, events)


def load_or_build_template(args: argparse.Namespace, hot: Hotspot) -> Template:
    cache = Path(args.template_cache) if args.template_cache else None
    key = (args.template_ratings, args.seed, args.negative_share, asdict(hot))
    if cache is not None and cache.exists():
        cached_key, template = pickle.loads(cache.read_bytes())
        if cached_key == key:
            print(f"template: {template.ratings:,} ratings from {cache}")
            return template
    template = build_template(args.template_ratings, args.seed, args.negative_share, hot)
    if cache is not None:
        cache.write_bytes(pickle.dumps((key, template)))
    return template


# -- 2. copies in ClickHouse ------------------------------------------------------------------------------


def province_classes() -> list[list[str]]:
    """The simulator's province classes: its residence-heavy, origin-heavy and remaining provinces."""
    classes: dict[str, list[str]] = defaultdict(list)
    for code in PROVINCE_LIST:
        if ORIGIN_WEIGHTS.get(code, 1.0) > 1.0:
            classes["origin"].append(code)
        elif RESIDENCE_WEIGHTS.get(code, 1.0) > 1.0:
            classes["residence"].append(code)
        else:
            classes["other"].append(code)
    return list(classes.values())


def copies(count: int, seed: int) -> list[tuple[int, int, list[str]]]:
    """(copy, shift in seconds (whole weeks), permutation of PROVINCE_LIST within the province classes)."""
    rng = random.Random(seed)
    found = []
    for copy in range(count):
        mapping: dict[str, str] = {}
        for members in province_classes():
            shuffled = members[:]
            rng.shuffle(shuffled)
            mapping.update(zip(members, shuffled, strict=True))
        found.append((copy, rng.randrange(WEEKS) * WEEK_S, [mapping[code] for code in PROVINCE_LIST]))
    return found


def org_translations(template: Template) -> list[tuple[str, str, str, str]]:
    """(template org code, new province, org code, org name) from the simulator's own OrgBook."""
    catalog = default_catalog()
    book = OrgBook()
    departments = {matter.department for matter in catalog.matters.values()} | {UNKNOWN_DEPARTMENT}
    from haochaping.codes import Role

    origin: dict[str, tuple[str, Role]] = {}
    for department in sorted(departments):
        for province in PROVINCE_LIST:
            for role in Role:
                origin.setdefault(book.org(department, province, role)["code"], (department, role))
    codes: set[str] = set()
    for table, column in (
        ("step_observations", "org_code"),
        ("case_steps", "org_code"),
        ("attributions", "responsible_org"),
    ):
        index = TABLE_COLUMNS[table].index(column)
        codes.update(str(row[index]) for row in template.rows[table] if row[index])
    found = []
    for code in sorted(codes):
        if code not in origin:
            continue  # left as it is
        department, role = origin[code]
        for province in PROVINCE_LIST:
            org = book.org(department, province, role)
            found.append((code, province, org["code"], org["name"]))
    return found


def create_template_tables(client: Any, template: Template, hot: Hotspot, args: argparse.Namespace) -> None:
    client.command(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    client.command(f"CREATE DATABASE {BENCH_DB}")
    for table in RAW_TABLES:
        types = dict(
            client.query(
                f"SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '{table}'"
            ).result_rows
        )
        columns = [*TABLE_COLUMNS[table], *HELPERS]
        ddl = ", ".join(f"{name} {types.get(name) or HELPERS[name]}" for name in columns)
        client.command(f"CREATE TABLE {BENCH_DB}.t_{table} ({ddl}) ENGINE = MergeTree ORDER BY tuple()")
        rows = template.rows[table]
        for start in range(0, len(rows), 200_000):
            client.insert(f"{BENCH_DB}.t_{table}", rows[start : start + 200_000], column_names=columns)
    client.command(
        f"CREATE TABLE {BENCH_DB}.copies (copy UInt32, shift Int64, perm Array(String)) "
        "ENGINE = MergeTree ORDER BY copy"
    )
    client.insert(f"{BENCH_DB}.copies", copies(args.copies, args.seed), column_names=["copy", "shift", "perm"])
    client.command(
        f"CREATE TABLE {BENCH_DB}.orgs (src String, province String, code String, name String) "
        "ENGINE = MergeTree ORDER BY (src, province)"
    )
    client.insert(f"{BENCH_DB}.orgs", org_translations(template), column_names=["src", "province", "code", "name"])
    # Comments and evidence of real complaints about the hotspot's step and reason, for the turned ratings.
    a, rt = TABLE_COLUMNS["attributions"], TABLE_COLUMNS["ratings"]
    comment_of = {row[rt.index("rating_id")]: row[rt.index("comment")] for row in template.rows["ratings"]}
    pool = [
        (
            comment_of.get(row[a.index("rating_id")]) or "",
            list(row[a.index("evidence")]),
            float(row[a.index("confidence")]),
        )
        for row in template.rows["attributions"]
        if row[a.index("step")] == hot.step and row[a.index("reason")] == hot.reason and row[a.index("is_primary")]
    ] or [(f"{hot.step} {hot.reason}", [f"tag:{hot.reason}"], 0.8)]
    client.command(
        f"CREATE TABLE {BENCH_DB}.hot_pool (comment String, evidence Array(String), confidence Float32) "
        "ENGINE = MergeTree ORDER BY tuple()"
    )
    client.insert(f"{BENCH_DB}.hot_pool", pool, column_names=["comment", "evidence", "confidence"])


def hot_rate_ppm(template: Template, hot: Hotspot) -> tuple[int, float]:
    """Share (ppm) of positive ratings through the hotspot's step to turn, for `factor` × the step's rate."""
    o = {name: i for i, name in enumerate(TABLE_COLUMNS["step_observations"])}
    cell = [
        row
        for row in template.rows["step_observations"]
        if row[o["matter_code"]] == hot.matter and row[o["mode"]] == hot.mode and row[o["step"]] == hot.step
    ]
    if not cell:
        raise SystemExit(f"the template has no ratings through {hot.matter} {hot.mode} {hot.step}")
    base = sum(float(row[o["weight"]]) for row in cell) / len(cell)  # type: ignore[arg-type]
    positive = sum(1 for row in cell if int(row[o["level"]]) > 2) / len(cell)  # type: ignore[call-overload]
    return round(1e6 * min(1.0, (hot.factor - 1) * base / positive)), base


def _provinces_sql() -> str:
    return "[" + ", ".join(f"'{code}'" for code in PROVINCE_LIST) + "]"


def _perm(column: str, prefix: str = "x.") -> str:
    return f"{prefix}perm[indexOf({_provinces_sql()}, {column})]"


def _inner(
    table: str, template_ratings: int, ratings: int, hot: Hotspot, rate_ppm: int, first: int, last: int, extra: str = ""
) -> str:
    """Template rows × copies first..last, with the copy's shift, the hotspot decision and `extra` columns."""
    begin, since, until = _epoch(BEGIN), _epoch(hot.since), _epoch(hot.until)
    return f"""(
    SELECT t.*, c.copy AS copy, c.perm AS perm,
           toInt64(cityHash64(c.copy, t.ri, 'jitter') % {JITTER_S}) AS jitter,
           (t.rt - {begin} + c.shift + jitter) % {SPAN_S} - (t.rt - {begin}) AS shift_s,
           t.lvl > 2 AND t.hot_src != '' AND {_perm("t.hot_src", "c.")} = '{hot.province}'
               AND t.rt + shift_s >= {since} AND t.rt + shift_s < {until}
               AND cityHash64(c.copy, t.ri, 'hot') % 1000000 < {rate_ppm} AS hot,
           toUInt8(if(cityHash64(c.copy, t.ri, 'level') % 10 < 4, 1, 2)) AS hot_level,
           cityHash64(c.copy, t.ri, 'pool') AS pick
           {extra}
    FROM {BENCH_DB}.t_{table} AS t
    CROSS JOIN (SELECT * FROM {BENCH_DB}.copies WHERE copy BETWEEN {first} AND {last}) AS c
    WHERE toUInt64(c.copy) * {template_ratings} + t.ri < {ratings}
) AS x"""


def generation_sql(
    table: str, template_ratings: int, ratings: int, hot: Hotspot, rate_ppm: int, first: int, last: int
) -> list[str]:
    """INSERT … SELECT statements writing copies first..last of the template into `table`."""
    args = (template_ratings, ratings, hot, rate_ppm, first, last)
    columns = ", ".join(c for c in TABLE_COLUMNS[table])
    src = f"'bench.{table}', toUInt16(x.copy % 4), toUInt64(x.copy) * {template_ratings} + x.ri"
    pool = f"WITH (SELECT groupArray((comment, evidence, confidence)) FROM {BENCH_DB}.hot_pool) AS hot_pool"
    suffix = "concat({}, '.', toString(x.copy))"
    orgs = f"LEFT JOIN {BENCH_DB}.orgs AS g ON g.src = x.org_key AND g.province = x.dprov"
    hot_step = f"x.hot AND x.step = '{hot.step}'"
    if table == "ratings":
        return [
            f"""
INSERT INTO ratings ({columns})
{pool}
SELECT {suffix.format("x.rating_id")}, if(x.case_id IS NULL, NULL, {suffix.format("x.case_id")}), x.matter_code,
       {_perm("x.province")}, x.channel, if(x.hot, x.hot_level, x.level), if(x.hot, 1, x.negative),
       if(x.hot, if(x.pick % 3 = 0, ['{hot.reason}'], []), x.tags),
       if(x.hot, nullIf(hot_pool[1 + x.pick % length(hot_pool)].1, ''), x.comment), x.step,
       addSeconds(x.rated_at, x.shift_s),
       if(x.rater_pseudonym = '', '', lower(hex(MD5(concat(x.rater_pseudonym, toString(x.copy)))))),
       x.rater_real_name, {src}
FROM {_inner(table, *args)}"""
        ]
    if table == "step_observations":
        extra = f", {_perm('t.province', 'c.')} AS dprov, t.org_code AS org_key"
        return [
            f"""
INSERT INTO step_observations ({columns})
SELECT {suffix.format("x.rating_id")}, addSeconds(x.rated_at, x.shift_s), x.dprov, x.matter_code, x.mode, x.step,
       x.role, if(g.code = '', x.org_code, g.code), if(x.hot, x.hot_level, x.level),
       if({hot_step}, 1.0, x.weight), if({hot_step}, '{hot.reason}', x.reason), {src}
FROM {_inner(table, *args, extra=extra)}
{orgs}"""
        ]
    if table == "attributions":
        province = "ifNull(t.responsible_province, '')"
        extra = f", {_perm(province, 'c.')} AS dprov, ifNull(t.responsible_org, '') AS org_key"
        traced = f"""
INSERT INTO attributions ({columns})
SELECT {suffix.format("x.rating_id")}, if(x.case_id IS NULL, NULL, {suffix.format("x.case_id")}), x.matter_code,
       x.mode, {_perm("x.province")}, x.level, addSeconds(x.rated_at, x.shift_s), x.step, x.reason,
       x.responsible_role, if(x.responsible_province IS NULL, NULL, x.dprov),
       if(x.responsible_org IS NULL, NULL, if(g.code = '', x.responsible_org, g.code)), x.confidence,
       x.candidate_step, x.candidate_reason, x.weight, x.is_primary, x.evidence, {src}
FROM {_inner(table, *args, extra=extra)}
{orgs}"""
        # The hotspot's complaints: one attribution row each, from the observation of the hotspot's step.
        extra = f", {_perm('t.province', 'c.')} AS dprov, t.org_code AS org_key"
        turned = f"""
INSERT INTO attributions ({columns})
{pool}
SELECT {suffix.format("x.rating_id")}, if(x.cid = '', NULL, {suffix.format("x.cid")}), x.matter_code, x.mode,
       {_perm("x.rprov")}, x.hot_level, addSeconds(x.rated_at, x.shift_s), '{hot.step}', '{hot.reason}', x.role,
       x.dprov, if(g.code = '', x.org_code, g.code), hot_pool[1 + x.pick % length(hot_pool)].3,
       '{hot.step}', '{hot.reason}', 1.0, 1, hot_pool[1 + x.pick % length(hot_pool)].2, {src}
FROM {_inner("step_observations", *args, extra=extra)}
{orgs}
WHERE {hot_step}"""
        return [traced, turned]
    if table == "case_steps":
        manifest = manifest_for(StepKind(hot.step), Reason(hot.reason))
        days, breached, send_backs, fails = "x.working_days", "x.breached", "x.send_backs", "x.failed_checks"
        if manifest is Manifest.BREACH:
            days = f"if({hot_step}, greatest(x.working_days, ifNull(x.limit_days, 1) * 1.6), x.working_days)"
            breached = f"if({hot_step}, 1, x.breached)"
        elif manifest is Manifest.RETURN:
            send_backs = f"if({hot_step}, greatest(x.send_backs, 1), x.send_backs)"
        elif manifest is Manifest.FAIL:
            fails = f"if({hot_step}, x.failed_checks + 1, x.failed_checks)"
        extra = f", {_perm('t.org_province', 'c.')} AS dprov, t.org_code AS org_key"
        return [
            f"""
INSERT INTO case_steps ({columns})
SELECT {suffix.format("x.case_id")}, x.matter_code, x.mode, x.step, if(g.code = '', x.org_code, g.code),
       if(g.code = '', x.org_name, g.name), x.dprov, x.org_role, addSeconds(x.started_at, x.shift_s),
       addSeconds(x.completed_at, x.shift_s), {days}, x.limit_days, {breached}, {send_backs}, {fails},
       if(x.handoff_from_province = '', '', {_perm("x.handoff_from_province")}),
       if(x.handoff_to_province = '', '', {_perm("x.handoff_to_province")}), x.handoff_transit_days, {src}
FROM {_inner(table, *args, extra=extra)}
{orgs}
WHERE toUnixTimestamp(x.completed_at) + x.shift_s < {_epoch(END)}"""
        ]
    raise ValueError(table)


def alert_rows(hot: Hotspot, seed: int, count: int) -> list[tuple[object, ...]]:
    """Spike-detector alerts over the 13 weeks: resolved incidents at random keys, and the hotspot firing."""
    rng = random.Random(seed)
    catalog = default_catalog()
    keys = [
        (matter, spec.step.value)
        for matter, entry in catalog.matters.items()
        for process in entry.processes.values()
        for spec in process.steps
    ]
    rows: list[tuple[object, ...]] = []

    def alert(state: str, province: str, matter: str, step: str, start: datetime, rate: float, base: float) -> None:
        ratings = rng.randint(200, 2000)
        reason = hot.reason if (province, matter, step) == (hot.province, hot.matter, hot.step) else "DELAY"
        query = (
            f"SELECT * FROM step_observations WHERE province = '{province}' AND matter_code = '{matter}' "
            f"AND step = '{step}' AND rated_at >= '{start:%Y-%m-%d %H:%M:%S}'"
        )
        rows.append(
            (
                f"bench-{len(rows)}",
                state,
                province,
                matter,
                step,
                start,
                start + timedelta(hours=6),
                ratings,
                ratings * rate,
                rate,
                base,
                rng.uniform(4, 12) if state == "firing" else rng.uniform(0, 1),
                [(reason, reason, ratings * rate * 0.6)],
                [],
                [(f"{province}-BENCH", "HANDLING", ratings, ratings * rate)],
                query,
            )
        )

    for _ in range(count):
        matter, step = rng.choice(keys)
        province = rng.choice(PROVINCE_LIST)
        start = BEGIN + timedelta(hours=6 * rng.randrange((WEEKS * 7 - 2) * 4))
        base = rng.uniform(0.002, 0.02)
        alert("firing", province, matter, step, start, base * rng.uniform(3, 8), base)
        alert("resolved", province, matter, step, start + timedelta(hours=6 * rng.randint(2, 8)), base, base)
    alert("firing", hot.province, hot.matter, hot.step, hot.until - timedelta(days=2), 0.05, 0.01)
    return rows


INSERT_SETTINGS = {"insert_deduplicate": 0}


def generate(directory: Path, template: Template, args: argparse.Namespace, hot: Hotspot) -> dict[str, Any]:
    rate_ppm, base = hot_rate_ppm(template, hot)
    args.copies = math.ceil(args.ratings / template.ratings)
    per_chunk = max(1, args.chunk_ratings // template.ratings)
    print(
        f"generating {args.ratings:,} ratings = {args.copies} copies of the template ({template.ratings:,} ratings), "
        f"{per_chunk} copies per chunk; hotspot: {hot.province} {hot.matter} {hot.mode} {hot.step} {hot.reason}, "
        f"base rate {base:.4f}, {rate_ppm / 1e4:.2f} % of its positive ratings turned in "
        f"{hot.since:%Y-%m-%d} – {hot.until:%Y-%m-%d} (Beijing)"
    )
    started = time.perf_counter()
    with open_clickhouse(f"chdb://{directory}", owner="bench analyst_queries") as client:
        create_template_tables(client, template, hot, args)
        client.insert(
            "alerts",
            alert_rows(hot, args.seed, args.alerts),
            column_names=list(ALERT_COLUMNS),
        )
        meta = {
            "hotspot": {**asdict(hot), "since": hot.since.isoformat(), "until": hot.until.isoformat()},
            "ratings": args.ratings,
            "template_ratings": template.ratings,
            "copies": args.copies,
            "rate_ppm": rate_ppm,
            "base_rate": base,
        }
        client.command(f"CREATE TABLE {BENCH_DB}.meta (json String) ENGINE = MergeTree ORDER BY tuple()")
        client.insert(f"{BENCH_DB}.meta", [[json.dumps(meta)]], column_names=["json"])
        print(f"  template tables loaded in {time.perf_counter() - started:.0f} s")
        for first in range(0, args.copies, per_chunk):
            last = min(first + per_chunk, args.copies) - 1
            chunk_started = time.perf_counter()
            spent = []
            for table in RAW_TABLES:
                began = time.perf_counter()
                for statement in generation_sql(table, template.ratings, args.ratings, hot, rate_ppm, first, last):
                    client.command(statement, settings=INSERT_SETTINGS)
                spent.append(f"{table} {time.perf_counter() - began:.0f} s")
            done = min((last + 1) * template.ratings, args.ratings)
            elapsed = time.perf_counter() - started
            eta = elapsed / done * (args.ratings - done)
            print(
                f"  copies {first}–{last}: {done:,} / {args.ratings:,} ratings, "
                f"chunk {time.perf_counter() - chunk_started:.0f} s, "
                f"elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min ({', '.join(spent)}; {_load()})",
                flush=True,
            )
        meta["insert_seconds"] = time.perf_counter() - started
        wait_for_merges(client, args.merge_wait)
        meta["generation_seconds"] = time.perf_counter() - started
        client.command(f"TRUNCATE TABLE {BENCH_DB}.meta")
        client.insert(f"{BENCH_DB}.meta", [[json.dumps(meta)]], column_names=["json"])
    return meta


def wait_for_merges(client: Any, limit: float) -> None:
    """Let background merges settle (up to `limit` seconds) so they do not run during the timing."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        merging = client.query("SELECT count() FROM system.merges").result_rows[0][0]
        parts = client.query(
            "SELECT count() FROM system.parts WHERE active AND database = currentDatabase()"
        ).result_rows[0][0]
        if not merging:
            break
        print(f"  waiting for merges: {merging} running, {parts} active parts", flush=True)
        time.sleep(15)
    print(f"  merges settled after {time.perf_counter() - started:.0f} s")


# -- 3. what is in the tables --------------------------------------------------------------------------------


def describe(run: Callable[[str, dict[str, object]], Any]) -> None:
    tables = run(
        "SELECT table, sum(rows), sum(bytes_on_disk), count() FROM system.parts "
        "WHERE active AND database = currentDatabase() "
        "GROUP BY table ORDER BY sum(rows) DESC",
        {},
    ).rows
    print(f"\n{'table':22} {'rows':>14} {'on disk':>10} {'parts':>6}")
    for table, rows, size, parts in tables:
        print(f"{table:22} {rows:>14,} {size / 2**20:>7,.0f} MiB {parts:>6}")
    shares = run(
        """
SELECT count() AS ratings, round(avg(negative), 4) AS negative_share,
       round(countIf(case_id IS NULL) / count(), 4) AS hotline,
       uniqExact(province) AS portal_provinces, uniqExact(matter_code) AS matters,
       toDate(min(rated_at)) AS first_day, toDate(max(rated_at)) AS last_day
FROM ratings""",
        {},
    )
    print(dict(zip(shares.columns, shares.rows[0], strict=True)))
    observed = run(
        """
SELECT round(count() / (SELECT countIf(case_id IS NOT NULL) FROM ratings), 2) AS observations_per_case_rating,
       uniqExact(province) AS step_provinces, uniqExact((matter_code, mode)) AS matter_modes,
       uniqExact((matter_code, mode, step)) AS matter_mode_steps, uniqExact(org_code) AS orgs,
       round(sum(weight) / count(), 5) AS overall_rate
FROM step_observations""",
        {},
    )
    print(dict(zip(observed.columns, observed.rows[0], strict=True)))
    reasons = run(
        "SELECT reason, count() AS n FROM attributions WHERE is_primary GROUP BY reason ORDER BY n DESC LIMIT 8", {}
    ).rows
    print("primary reasons:", ", ".join(f"{reason} {n:,}" for reason, n in reasons))


# -- 4. timing ------------------------------------------------------------------------------------------------


def measure(call: Callable[[], Any], repeats: int, warm_up: bool) -> tuple[list[float], Any, str]:
    times: list[float] = []
    result: Any = None
    for attempt in range(repeats + (1 if warm_up else 0)):
        began = time.perf_counter()
        try:
            result = call()
        except Exception as error:  # a ClickHouse error or the 60 s limit: report it, keep going
            return times, None, str(error).strip().splitlines()[0][:120]
        if attempt or not warm_up:
            times.append(time.perf_counter() - began)
    return times, result, ""


def time_queries(directory: Path, repeats: int, warm_up: bool) -> tuple[int, list[str]]:
    client, run = read_only_client(f"chdb://{directory}", owner="bench analyst_queries")
    meta = json.loads(run(f"SELECT json FROM {BENCH_DB}.meta", {}).rows[0][0])
    spot = meta["hotspot"]
    describe(run)
    if "generation_seconds" in meta:
        print(f"generation: {meta['generation_seconds'] / 60:.1f} min (inserts {meta['insert_seconds'] / 60:.1f} min)")
    week = reports.resolve_period(run)  # what `hcp report` and the dashboard use: 7 days to the newest hour
    hourly = reports.Period(
        week.since - timedelta(hours=12), week.until - timedelta(hours=12), week.history_since - timedelta(hours=12)
    )
    whole = reports.Period(BEGIN.astimezone(UTC), END.astimezone(UTC), (BEGIN - timedelta(days=28)).astimezone(UTC))
    four_days = reports.Period(hourly.until - timedelta(days=4), hourly.until, hourly.history_since)
    every = reports.Filters()
    key = reports.Filters(province=spot["province"], matter=spot["matter"], mode=spot["mode"], step=spot["step"])
    pair = reports.Filters(matter=spot["matter"], step=spot["step"])
    names = {code: matter.name for code, matter in default_catalog().matters.items()}
    print(
        f"\nperiods: 7 days {week.describe()} ({week.table}); 7 days shifted 12 h ({hourly.table}); "
        f"13 weeks {whole.describe()} ({whole.table})"
    )
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("data range (every command's first query)", lambda: reports.resolve_period(run)),
        ("priorities, 7 d (daily)", lambda: reports.query(run, "priorities", week, every)),
        ("priorities + comments, 7 d (hcp report)", lambda: reports.priorities(run, week, every)),
        ("priorities, 7 d at 12:00 (hourly)", lambda: reports.query(run, "priorities", hourly, every)),
        ("priorities, 13 weeks (daily)", lambda: reports.query(run, "priorities", whole, every)),
        ("compare 对标, 7 d", lambda: reports.comparison(run, week, pair)),
        ("compare 对标, 13 weeks", lambda: reports.comparison(run, whole, pair)),
        ("reducible, 7 d", lambda: reports.reducible(run, week, every)),
        ("reducible, 13 weeks", lambda: reports.reducible(run, whole, every)),
        ("handoffs, 7 d (raw tables)", lambda: reports.handoffs(run, week, every)),
        ("handoffs, 13 weeks (raw tables)", lambda: reports.handoffs(run, whole, every)),
        ("trend, 4 d to 12:00 (hourly)", lambda: reports.trend(run, reports.trend_period(four_days), key)),
        ("trend, 13 weeks by day", lambda: reports.trend(run, whole, key)),
        ("alerts, 7 d", lambda: reports.alerts(run, week, every)),
        ("heatmap, 7 d", lambda: reports.query(run, "heatmap", week, every)),
        ("dashboard / --html payload, 7 d", lambda: reports.dashboard_payload(run, week, every, names)),
        ("aggregate check (hcp report check)", lambda: reports.query(run, "aggregate_check", week, every)),
    ]
    print(f"\n{_load()}; {repeats} timed run(s) per query" + (" after a warm-up" if warm_up else ""))
    print(f"{'query':42} {'median s':>9} {'min–max s':>15} {'rows':>6}")
    results: dict[str, Any] = {}
    for label, call in cases:
        times, result, error = measure(call, repeats, warm_up)
        results[label] = result
        if error:
            print(f"{label:42} failed: {error}")
            continue
        rows = (
            len(result) if isinstance(result, list) else (len(result["priorities"]) if isinstance(result, dict) else 1)
        )
        spread = f"{min(times):.3f}–{max(times):.3f}"
        print(f"{label:42} {statistics.median(times):>9.3f} {spread:>15} {rows:>6}", flush=True)
    print(_load())
    client.close()
    return check_hotspot(spot, results)


def check_hotspot(spot: dict[str, Any], results: dict[str, Any]) -> tuple[int, list[str]]:
    problems: list[str] = []
    ranked = results.get("priorities + comments, 7 d (hcp report)") or []
    for index, row in enumerate(ranked[:3], start=1):
        print(
            f"priority #{index}: {row['province']} {row['matter_code']} {row['mode']} {row['step']} "
            f"priority {row['priority']}, excess {row['excess']}, top reason {(row['top_reasons'] or [[None]])[0][0]}"
        )
    top = ranked[0] if ranked else None
    wanted = (spot["province"], spot["matter"], spot["mode"], spot["step"])
    if top is None:
        problems.append("no redesign priorities at all")
    else:
        found = (top["province"], top["matter_code"], top["mode"], top["step"])
        reason = top["top_reasons"][0][0] if top["top_reasons"] else None
        print(
            f"\ntop priority: {' '.join(found)} rate {top['rate']} vs peers {top['peer_rate']} / history "
            f"{top['history_rate']}, excess {top['excess']}, priority {top['priority']}, reasons {top['top_reasons']}"
        )
        if found != wanted:
            problems.append(f"top priority is {found}, not the hotspot {wanted}")
        if reason != spot["reason"]:
            problems.append(f"top reason is {reason}, not {spot['reason']}")
    compared = [row for row in results.get("compare 对标, 7 d") or [] if row["eligible"]]
    worst = max(compared, key=lambda row: row["rate"] or 0, default=None)
    if worst is not None and worst["province"] != spot["province"]:
        problems.append(f"对标: the worst province is {worst['province']}, not {spot['province']}")
    print(
        "hotspot check: "
        + (
            "OK — the top priority is the injected hotspot with its reason"
            if not problems
            else "FAILED — " + "; ".join(problems)
        )
    )
    return (1 if problems else 0), problems


# -- main ------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ratings", type=int, default=10_000_000, help="ratings to generate (10,000,000)")
    parser.add_argument("--dir", type=Path, help="a new chDB directory (default: a temp dir, removed afterwards)")
    parser.add_argument("--reuse", action="store_true", help="time the queries on an existing --dir")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per query after one warm-up (5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--template-ratings", type=int, default=100_000, help="ratings simulated for the template")
    parser.add_argument("--template-cache", help="pickle the template here and reuse it when the options match")
    parser.add_argument("--negative-share", type=float, default=0.05, help="share of 差评 in the simulation (0.05)")
    parser.add_argument("--chunk-ratings", type=int, default=1_000_000, help="ratings per INSERT … SELECT chunk")
    parser.add_argument("--alerts", type=int, default=150, help="resolved alert incidents to add (150)")
    parser.add_argument("--merge-wait", type=float, default=900, help="seconds at most to let merges settle (900)")
    parser.add_argument("--hot-province", default="510000")
    parser.add_argument("--hot-matter", default="HCP-YB-JYBA")
    parser.add_argument("--hot-step", default="REVIEW")
    parser.add_argument("--hot-reason", default="STANDARD_MISMATCH")
    parser.add_argument("--hot-factor", type=float, default=4.0)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run per query: proves it works (< 2 min)")
    args = parser.parse_args()
    if args.smoke:
        args.ratings, args.template_ratings, args.repeats, args.chunk_ratings = 30_000, 3_000, 1, 10_000
        args.alerts, args.merge_wait = 10, 30
    matter = default_catalog().matters.get(args.hot_matter)
    if matter is None or args.hot_province not in PROVINCES:
        parser.error("--hot-matter and --hot-province must be a catalog matter and a province code")
    modes = [
        mode.value
        for mode, process in matter.processes.items()
        if any(spec.step.value == args.hot_step for spec in process.steps)
    ]
    if not modes:
        parser.error(f"{args.hot_matter} has no step {args.hot_step}")
    hot = Hotspot(
        args.hot_province,
        args.hot_matter,
        modes[0],
        args.hot_step,
        Reason(args.hot_reason).value,
        args.hot_factor,
        END - timedelta(days=7),
        END,
    )
    temporary = args.dir is None
    directory = args.dir or Path(tempfile.mkdtemp(prefix="hcp-queries-")) / "clickhouse"
    try:
        if not args.reuse:
            if directory.exists():
                parser.error(f"{directory} exists: give a new directory (or --reuse)")
            print(f"machine: {_machine()}")
            template = load_or_build_template(args, hot)
            print(
                f"template: {template.events:,} simulated events → {template.ratings:,} ratings in the 13 weeks, "
                + ", ".join(f"{len(rows):,} {table}" for table, rows in template.rows.items())
                + f" ({template.seconds:.0f} s, real simulator + Ingestor core)"
            )
            generate(directory, template, args, hot)
        status, _ = time_queries(directory, args.repeats, warm_up=not args.smoke)
    finally:
        if temporary:
            shutil.rmtree(directory.parent, ignore_errors=True)
    if args.smoke:
        print("smoke run: too small for the figures or the hotspot check to mean anything (a FAILED check is expected)")
        return 0
    return status


def _load() -> str:
    import os

    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def _machine() -> str:
    import os
    import platform

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs, {memory:.0f} GiB RAM, Python {platform.python_version()}, {platform.platform()}"


if __name__ == "__main__":
    sys.exit(main())
