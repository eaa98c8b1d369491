"""A case's timeline (办件过程) built from its CaseEvents, and the per-step records derived from it.

The stream worker keeps one CaseTimeline per case in a table (encode/decode below); tracing reads
steps() to see which step was late, sent the citizen back, failed a check or stalled a hand-off.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple, Protocol

from haochaping.catalog import Catalog, Process, StepSpec
from haochaping.codes import PROVINCES, Action, Mode, Role, StepKind
from haochaping.events import CaseEvent
from haochaping.holidays import official_calendar
from haochaping.workdays import DateRange, WorkCalendar

STEP_ORDER: tuple[StepKind, ...] = tuple(StepKind)
_STEP_INDEX = {step: index for index, step in enumerate(STEP_ORDER)}
_ACTIONS: tuple[Action, ...] = tuple(Action)
_ACTION_INDEX = {action: index for index, action in enumerate(_ACTIONS)}
_MODES: tuple[Mode, ...] = tuple(Mode)
_ROLES: tuple[Role, ...] = tuple(Role)
_PROVINCE_CODES: tuple[str, ...] = tuple(sorted(PROVINCES))
_PROVINCE_INDEX = {code: index for index, code in enumerate(_PROVINCE_CODES)}

# Only the notes of send-backs and failed checks say something tracing can use (which material,
# which lookup); other notes are dropped and kept notes are cut, so the state stays small.
NOTE_ACTIONS = frozenset({Action.RETURN, Action.FAIL})
MAX_KEPT_NOTE_CHARS = 100


@dataclass(frozen=True, slots=True)
class OrgRef:
    """An organisation as a case event named it."""

    code: str
    name: str
    province: str
    role: Role


@dataclass(frozen=True, slots=True)
class Handoff:
    """A transfer_out → transfer_in bracket: who sent, who received, and how long each side took.

    `dispatch_days` is the sender's part (step start → first transfer_out); `transit_days` is
    the time between sending and receiving (summed over all rounds; an unanswered send is
    measured up to `as_of`). Both are working days; None when they cannot be measured.
    """

    sender: OrgRef
    receiver: OrgRef | None
    sent_at: datetime
    received_at: datetime | None
    dispatch_days: float | None
    transit_days: float | None

    @property
    def cross_province(self) -> bool:
        return self.receiver is not None and self.receiver.province != self.sender.province


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of one case as the timeline shows it, measured against the catalog.

    The limit and role are those of the process of `org`'s province: the national process, or
    that province's override (docs/catalog.md), named in `limit_province` when it changed them.

    `working_days` runs from `started_at` to `completed_at` (or to `as_of` while the step is
    open; None if open and no `as_of` was given) and leaves out the time a send-back spent with
    the citizen (补正期间不计时): from each `return` to the step's next event.
    """

    step: StepKind
    org: OrgRef
    started_at: datetime
    completed_at: datetime | None
    working_days: float | None
    limit_days: int | None
    catalog_role: Role | None
    breached: bool
    returns: int
    fails: int
    handoff: Handoff | None
    notes: tuple[str, ...]
    # The province whose override changed this step's limit or role (its office did the step).
    limit_province: str | None = None

    @property
    def overrun(self) -> float:
        """How far over the limit, as a ratio (0.0 when within it or unmeasured)."""
        if not self.breached or self.working_days is None or not self.limit_days:
            return 0.0
        return self.working_days / self.limit_days - 1.0


class _Entry(NamedTuple):
    """What the timeline keeps of one CaseEvent; `at_us` is POSIX microseconds (UTC)."""

    at_us: int
    step: int
    action: int
    key: int
    org: OrgRef
    offset_min: int
    note: str | None


class _Between(Protocol):
    def __call__(self, start: float, end: float, /) -> float: ...


def event_key(event_id: str) -> int:
    """48-bit digest of an event id: ~1e-11 collision odds for a 50-event case, 6 bytes stored."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=6).digest(), "big")


def _sort_key(entry: _Entry) -> tuple[int, int, int, int]:
    # Instant first; ties in a fixed order so replicas that saw events in another order agree.
    return (entry.at_us, entry.step, entry.action, entry.key)


def _epoch_us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The epoch as seen in each offset, so a stored instant becomes an aware datetime in one addition.
_LOCAL_EPOCHS: dict[int, datetime] = {}


def _datetime(at_us: int, offset_min: int) -> datetime:
    epoch = _LOCAL_EPOCHS.get(offset_min)
    if epoch is None:
        epoch = _LOCAL_EPOCHS[offset_min] = _EPOCH.astimezone(timezone(timedelta(minutes=offset_min)))
    return epoch + timedelta(microseconds=at_us)


class CaseTimeline:
    """All events seen for one case, kept sorted by time and de-duplicated by event id.

    The matter and mode are those of the first event; a later event naming another matter or
    mode is still recorded (its step data is real) but does not change them.
    """

    __slots__ = ("_entries", "_keys", "case_id", "matter_code", "mode")

    def __init__(self, case_id: str, matter_code: str, mode: Mode) -> None:
        self.case_id = case_id
        self.matter_code = matter_code
        self.mode = mode
        self._entries: list[_Entry] = []
        self._keys: set[int] = set()

    @classmethod
    def from_events(cls, events: Iterable[CaseEvent]) -> CaseTimeline:
        iterator = iter(events)
        first = next(iterator, None)
        if first is None:
            raise ValueError("a timeline needs at least one event")
        timeline = cls(first.case_id, first.matter_code, first.mode)
        timeline.add(first)
        for event in iterator:
            timeline.add(event)
        return timeline

    def add(self, event: CaseEvent) -> bool:
        """Record an event; False if its event_id was seen before (Kafka redelivers)."""
        if event.case_id != self.case_id:
            raise ValueError(f"event {event.event_id} is for case {event.case_id}, not {self.case_id}")
        key = event_key(event.event_id)
        if key in self._keys:
            return False
        offset = event.at.utcoffset()
        offset_min = int(offset.total_seconds()) // 60 if offset is not None else 0
        note = event.note if event.action in NOTE_ACTIONS else None
        if note is not None:
            note = note[:MAX_KEPT_NOTE_CHARS]
        org = OrgRef(event.org.code, event.org.name, event.org.province, event.org.role)
        step, action = _STEP_INDEX[event.step], _ACTION_INDEX[event.action]
        entry = _Entry(_epoch_us(event.at), step, action, key, org, offset_min, note)
        self._keys.add(key)
        insort(self._entries, entry, key=_sort_key)
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CaseTimeline):
            return NotImplemented
        return (
            self.case_id == other.case_id
            and self.matter_code == other.matter_code
            and self.mode == other.mode
            and self._entries == other._entries
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        identity = f"{self.case_id!r}, {self.matter_code!r}, {self.mode.value!r}"
        return f"CaseTimeline({identity}, {len(self)} events)"

    @property
    def last_event_at(self) -> datetime | None:
        """Time of the latest event (for expiring finished cases from the table)."""
        if not self._entries:
            return None
        last = self._entries[-1]
        return _datetime(last.at_us, last.offset_min)

    def events(self) -> Iterator[tuple[StepKind, Action, OrgRef, datetime, str | None]]:
        """(step, action, org, at, kept note) in time order, for inspection and tests."""
        for entry in self._entries:
            yield (
                STEP_ORDER[entry.step],
                _ACTIONS[entry.action],
                entry.org,
                _datetime(entry.at_us, entry.offset_min),
                entry.note,
            )

    # -- derivation -------------------------------------------------------------------------

    def steps(
        self,
        catalog: Catalog,
        calendar: WorkCalendar | None = None,
        as_of: datetime | None = None,
    ) -> list[StepRecord]:
        """One record per step kind, in the order the steps began, as the case stood at `as_of`.

        With `as_of`, events after it are ignored (a rating cannot be about what happened
        later) and open steps are measured up to it; without it every event counts and open
        steps have no working_days.
        """
        return [facts.record() for facts in self.step_facts(catalog, calendar, as_of)]

    def step_record(
        self,
        step: StepKind,
        catalog: Catalog,
        calendar: WorkCalendar | None = None,
    ) -> StepRecord | None:
        """steps()'s record for one step (None if the case has no event of it).

        The worker asks this on every `complete` event, so only that step is measured.
        """
        facts = self.step_facts(catalog, calendar, only=step)
        return facts[0].record() if facts else None

    def step_facts(
        self,
        catalog: Catalog,
        calendar: WorkCalendar | None = None,
        as_of: datetime | None = None,
        only: StepKind | None = None,
    ) -> list[StepFacts]:
        """The measurements behind steps(), without building records (tracing's hot path).

        Working days are counted on `calendar` (default: the official one, haochaping/holidays.py).
        With `only`, just that step is measured (an empty list if the case has no event of it).
        Each step's limit and role come from the process of the province of the organisation that
        did it (StepFacts.org), the national process where that province has no override.
        """
        process, _known = catalog.process(self.matter_code, self.mode)
        specs = _specs(process)
        provincial = catalog.overrides(self.matter_code, self.mode)
        usual = _usual_limits(catalog)
        between = (calendar if calendar is not None else official_calendar()).between_epoch
        entries = self._entries
        as_of_s: float | None = None
        if as_of is not None:
            as_of_s = as_of.timestamp()
            as_of_us = _epoch_us(as_of)
            if entries and entries[-1].at_us > as_of_us:
                entries = [entry for entry in entries if entry.at_us <= as_of_us]
        grouped: dict[int, list[int]] = {}
        if only is None:
            for position, entry in enumerate(entries):
                grouped.setdefault(entry.step, []).append(position)
        else:
            wanted = _STEP_INDEX[only]
            positions = [position for position, entry in enumerate(entries) if entry.step == wanted]
            if positions:
                grouped[wanted] = positions
        return [
            _measure(entries, step_index, positions, specs, provincial, usual, between, as_of_s)
            for step_index, positions in grouped.items()
        ]

    def encode(self) -> bytes:
        """Compact binary state for a table changelog (about 12 bytes an event plus the orgs)."""
        return _encode(self)

    @classmethod
    def decode(cls, data: bytes) -> CaseTimeline:
        return _decode(cls, data)


class StepFacts(NamedTuple):
    """What steps() measures for one step; record() turns it into a StepRecord when needed."""

    step: StepKind
    working_days: float | None
    limit_days: int | None
    catalog_role: Role | None
    breached: bool
    returns: int
    fails: int
    org: OrgRef  # who did the step
    completed: bool
    events: list[_Entry]
    started: _Entry
    completion: _Entry | None
    first_out: _Entry | None
    between: _Between
    as_of_s: float | None
    limit_province: str | None = None  # as StepRecord's

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(entry.note for entry in self.events if entry.note)

    @property
    def overrun(self) -> float:
        """How far over the limit, as a ratio (0.0 when within it or unmeasured)."""
        if not self.breached or self.working_days is None or not self.limit_days:
            return 0.0
        return self.working_days / self.limit_days - 1.0

    def record(self) -> StepRecord:
        started, completion, first_out = self.started, self.completion, self.first_out
        handoff = None
        if first_out is not None:
            handoff = _handoff(self.events, started, first_out, self.between, self.as_of_s)
        return StepRecord(
            step=self.step,
            org=self.org,
            started_at=_datetime(started.at_us, started.offset_min),
            completed_at=_datetime(completion.at_us, completion.offset_min) if completion is not None else None,
            working_days=self.working_days,
            limit_days=self.limit_days,
            catalog_role=self.catalog_role,
            breached=self.breached,
            returns=self.returns,
            fails=self.fails,
            handoff=handoff,
            notes=self.notes,
            limit_province=self.limit_province,
        )


def outside_calendar(facts: Sequence[StepFacts], calendar: WorkCalendar) -> DateRange | None:
    """The dates `facts` were measured on that `calendar` does not cover, or None (all covered).

    Each step runs from its start to its completion, or to `as_of` while open (its last event
    without one); pauses and hand-offs lie inside. Those days counted Mon–Fri (WorkCalendar).
    """
    if calendar.covers is None or not facts:
        return None
    # Everything measured lies between the earliest event of the first step to begin and as_of:
    # almost always inside the calendar, which spares the exact span (tracing's hot path).
    first = facts[0]
    if first.as_of_s is not None:
        earliest = min(first.started.at_us, first.events[0].at_us) / 1e6
        if calendar.outside(earliest, first.as_of_s) is None:
            return None
    start = end = None
    for fact in facts:
        began = fact.started.at_us / 1e6
        if fact.completion is not None:
            ended = fact.completion.at_us / 1e6
        elif fact.as_of_s is not None:
            ended = fact.as_of_s
        else:
            ended = fact.events[-1].at_us / 1e6
        start = began if start is None else min(start, began)
        end = ended if end is None else max(end, ended)
    assert start is not None and end is not None
    return calendar.outside(start, end)


_SPECS: dict[int, tuple[Process, dict[StepKind, StepSpec]]] = {}
_USUAL: dict[int, tuple[Catalog, dict[StepKind, int]]] = {}


def _usual_limits(catalog: Catalog) -> dict[StepKind, int]:
    """Each step's limit in the generic processes (the longest where modes differ).

    A case may log a step its matter's process does not list in that mode (an online matter
    accepted by a window); it still has the usual limit of that step, not none at all.
    """
    cached = _USUAL.get(id(catalog))
    if cached is None or cached[0] is not catalog:
        limits: dict[StepKind, int] = {}
        for process in catalog.generic.values():
            for spec in process.steps:
                limits[spec.step] = max(spec.limit_days, limits.get(spec.step, 0))
        cached = _USUAL[id(catalog)] = (catalog, limits)
    return cached[1]


def _specs(process: Process) -> dict[StepKind, StepSpec]:
    """The process's steps by kind, built once per process object (catalogs are immutable)."""
    cached = _SPECS.get(id(process))
    if cached is None or cached[0] is not process:
        cached = _SPECS[id(process)] = (process, {spec.step: spec for spec in process.steps})
    return cached[1]


def _measure(
    entries: list[_Entry],
    step_index: int,
    positions: list[int],
    specs: dict[StepKind, StepSpec],
    provincial: Mapping[str, Process],
    usual: Mapping[StepKind, int],
    between: _Between,
    as_of_s: float | None,
) -> StepFacts:
    mine = [entries[p] for p in positions]
    # One pass over the step's events (this runs for every step of every traced rating).
    first_start: _Entry | None = None
    last_complete: _Entry | None = None
    last_start: _Entry | None = None
    first_out: _Entry | None = None
    returns = fails = 0
    for entry in mine:
        action = entry.action
        if action == _START:
            if first_start is None:
                first_start = entry
            last_start = entry
        elif action == _COMPLETE:
            last_complete = entry
        elif action == _RETURN:
            returns += 1
        elif action == _FAIL:
            fails += 1
        elif action == _TRANSFER_OUT and first_out is None:
            first_out = entry

    if first_start is not None:
        started = first_start
    elif positions[0] > 0:
        # No start logged: the step began when the case's previous event happened.
        started = entries[positions[0] - 1]
    else:
        started = mine[0]
    closing = _COMPLETE if last_complete is not None else _TRANSFER_IN
    last = mine[-1]
    completion = last if last.action == closing else None

    end_s = completion.at_us / 1e6 if completion is not None else as_of_s
    working_days: float | None = None
    if end_s is not None:
        if _reopened(mine):
            working_days = _episode_days(mine, started, between, end_s)
        else:
            working_days = between(started.at_us / 1e6, end_s)
        if returns:
            working_days = max(0.0, working_days - _paused_days(mine, between, end_s))

    step = STEP_ORDER[step_index]
    performer = last_complete or last_start or first_out or mine[0]
    spec = specs.get(step)
    limit_province: str | None = None
    if provincial:
        # A province's limits bind its own offices: the step's performer decides whose apply.
        local = provincial.get(performer.org.province)
        if local is not None:
            local_spec = _specs(local).get(step)
            if local_spec != spec:
                spec, limit_province = local_spec, local.province
    limit = spec.limit_days if spec is not None else usual.get(step)
    return StepFacts(
        step=step,
        working_days=working_days,
        limit_days=limit,
        catalog_role=spec.role if spec is not None else None,
        breached=working_days is not None and limit is not None and working_days > limit,
        returns=returns,
        fails=fails,
        org=performer.org,
        completed=completion is not None,
        events=mine,
        started=started,
        completion=completion,
        first_out=first_out,
        between=between,
        as_of_s=as_of_s,
        limit_province=limit_province,
    )


_START = _ACTION_INDEX[Action.START]
_COMPLETE = _ACTION_INDEX[Action.COMPLETE]
_RETURN = _ACTION_INDEX[Action.RETURN]
_FAIL = _ACTION_INDEX[Action.FAIL]
_TRANSFER_OUT = _ACTION_INDEX[Action.TRANSFER_OUT]
_TRANSFER_IN = _ACTION_INDEX[Action.TRANSFER_IN]


_OPENING = (_START, _TRANSFER_OUT)
_CLOSING = (_COMPLETE, _TRANSFER_IN)


def _reopened(mine: list[_Entry]) -> bool:
    """Did the step begin again after it was done (materials out, then the result back)?"""
    closed = False
    for entry in mine:
        if entry.action in _CLOSING:
            closed = True
        elif closed and entry.action in _OPENING:
            return True
    return False


def _episode_days(mine: list[_Entry], started: _Entry, between: _Between, end_s: float) -> float:
    """A step done more than once in a case counts the time of each episode, not the span.

    Proxy and joint cases hand off twice (the materials out, the result back): measured from
    the first send to the last receipt, the weeks of review between them would count as transit.
    """
    total = 0.0
    opened: _Entry | None = started
    for entry in mine:
        action = entry.action
        if opened is None and action in _OPENING:
            opened = entry
        elif opened is not None and action in _CLOSING:
            total += between(opened.at_us / 1e6, entry.at_us / 1e6)
            opened = None
    if opened is not None:
        total += between(opened.at_us / 1e6, end_s)
    return total


def _paused_days(mine: list[_Entry], between: _Between, end_s: float) -> float:
    """Working days the case sat with the citizen after a send-back, up to the step's next event."""
    paused = 0.0
    for index, entry in enumerate(mine):
        if entry.action != _RETURN:
            continue
        resume_s = mine[index + 1].at_us / 1e6 if index + 1 < len(mine) else end_s
        paused += max(0.0, between(entry.at_us / 1e6, min(resume_s, end_s)))
    return paused


def _handoff(
    mine: list[_Entry], started: _Entry, first_out: _Entry, between: _Between, as_of_s: float | None
) -> Handoff:
    receiver: _Entry | None = None
    transit = 0.0
    measured = True
    pending: _Entry | None = None
    for entry in mine:
        if entry.action == _TRANSFER_OUT and pending is None:
            pending = entry
        elif entry.action == _TRANSFER_IN and pending is not None:
            transit += between(pending.at_us / 1e6, entry.at_us / 1e6)
            receiver = receiver or entry
            pending = None
    if pending is not None:
        if as_of_s is None:
            measured = False
        else:
            transit += max(0.0, between(pending.at_us / 1e6, as_of_s))
    dispatch = None
    if started.at_us < first_out.at_us:
        dispatch = between(started.at_us / 1e6, first_out.at_us / 1e6)
    return Handoff(
        sender=first_out.org,
        receiver=receiver.org if receiver is not None else None,
        sent_at=_datetime(first_out.at_us, first_out.offset_min),
        received_at=_datetime(receiver.at_us, receiver.offset_min) if receiver is not None else None,
        dispatch_days=dispatch,
        transit_days=transit if measured else None,
    )


# -- binary format ----------------------------------------------------------------------------
#
# version:B | case_id, matter_code: B-length utf-8 | mode:B | base seconds:q | base offset min:h
# orgs: B count, each code (B-len), name (H-len), province index:B, role index:B
# events: H count, each <IHBBI = key high 32 bits, key low 16 bits, step<<3|action, org, seconds
#         since base (events are sorted, so never negative)
# extras: H count, each <HIhH + note = event index, microsecond, offset min, note length (0xFFFF: none)
# Events at whole seconds in the base offset without a note, the usual case, need no extra.

_VERSION = 1
_EVENT = struct.Struct("<IHBBI")
_EXTRA = struct.Struct("<HIhH")
_NO_NOTE = 0xFFFF


def _put_text(out: bytearray, text: str, wide: bool = False) -> None:
    raw = text.encode()
    out += struct.pack("<H", len(raw)) if wide else struct.pack("<B", len(raw))
    out += raw


def _encode(timeline: CaseTimeline) -> bytes:
    entries = timeline._entries
    out = bytearray([_VERSION])
    _put_text(out, timeline.case_id)
    _put_text(out, timeline.matter_code)
    out.append(_MODES.index(timeline.mode))
    base_s = entries[0].at_us // 1_000_000 if entries else 0
    base_offset = entries[0].offset_min if entries else 0
    out += struct.pack("<qh", base_s, base_offset)

    org_index: dict[OrgRef, int] = {}
    for entry in entries:
        org_index.setdefault(entry.org, len(org_index))
    if len(org_index) > 255:
        raise ValueError(f"case {timeline.case_id} names {len(org_index)} organisations; at most 255")
    out.append(len(org_index))
    for org in org_index:
        _put_text(out, org.code)
        _put_text(out, org.name, wide=True)
        out += bytes((_PROVINCE_INDEX[org.province], _ROLES.index(org.role)))

    out += struct.pack("<H", len(entries))
    extras = bytearray()
    extra_count = 0
    for index, entry in enumerate(entries):
        seconds, micro = divmod(entry.at_us, 1_000_000)
        delta = seconds - base_s
        if not 0 <= delta < 2**32:
            raise ValueError(f"case {timeline.case_id} spans more than 136 years")
        out += _EVENT.pack(
            entry.key >> 16, entry.key & 0xFFFF, entry.step << 3 | entry.action, org_index[entry.org], delta
        )
        if micro or entry.offset_min != base_offset or entry.note is not None:
            note = entry.note.encode() if entry.note is not None else b""
            note_length = len(note) if entry.note is not None else _NO_NOTE
            extras += _EXTRA.pack(index, micro, entry.offset_min, note_length)
            extras += note
            extra_count += 1
    out += struct.pack("<H", extra_count)
    out += extras
    return bytes(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: struct.Struct) -> tuple[int, ...]:
        values = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return values

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def text(self, wide: bool = False) -> str:
        length = self.take(_U16)[0] if wide else self.byte()
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode()

    def raw(self, length: int) -> bytes:
        chunk = self.data[self.pos : self.pos + length]
        self.pos += length
        return chunk


_U16 = struct.Struct("<H")
_HEADER = struct.Struct("<qh")


def _decode(cls: type[CaseTimeline], data: bytes) -> CaseTimeline:
    reader = _Reader(data)
    version = reader.byte()
    if version != _VERSION:
        raise ValueError(f"unknown timeline encoding version {version}")
    case_id = reader.text()
    matter_code = reader.text()
    mode = _MODES[reader.byte()]
    base_s, base_offset = reader.take(_HEADER)
    orgs = []
    for _ in range(reader.byte()):
        code = reader.text()
        name = reader.text(wide=True)
        province = _PROVINCE_CODES[reader.byte()]
        role = _ROLES[reader.byte()]
        orgs.append(OrgRef(code, name, province, role))
    (count,) = reader.take(_U16)
    end = reader.pos + count * _EVENT.size
    rows = list(_EVENT.iter_unpack(data[reader.pos : end]))
    reader.pos = end
    entries = [
        _Entry((base_s + delta) * 1_000_000, code >> 3, code & 7, hi << 16 | lo, orgs[org], base_offset, None)
        for hi, lo, code, org, delta in rows
    ]
    (extra_count,) = reader.take(_U16)
    for _ in range(extra_count):
        index, micro, offset_min, note_length = reader.take(_EXTRA)
        note = reader.raw(note_length).decode() if note_length != _NO_NOTE else None
        entry = entries[index]
        entries[index] = entry._replace(at_us=entry.at_us + micro, offset_min=offset_min, note=note)
    if reader.pos != len(data):
        raise ValueError(f"{len(data) - reader.pos} trailing bytes after the timeline")
    timeline = cls(case_id, matter_code, mode)
    timeline._entries = entries
    timeline._keys = {entry.key for entry in entries}
    return timeline
