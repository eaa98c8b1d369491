"""Everything the spike detector remembers, and its encoding to bytes for a changelogged table.

The worker stores `encode()` after each batch and decodes it on restart; the state is a
versioned, compressed JSON document, so an upgrade can read what an older worker wrote.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from dataclasses import dataclass, field
from typing import Any

from haochaping.alerts.baseline import History
from haochaping.alerts.evidence import Tally

FORMAT_VERSION = 2
_MAGIC = b"HCPS"

Key = tuple[str, str | None, str]  # (province, matter_code or None when pooled, step)
Group = tuple[str, str]  # (province, step)

IDLE, PENDING, FIRING = "idle", "pending", "firing"


@dataclass(slots=True)
class Track:
    """Alerting status of one key; idle keys keep a Track only while cooling down."""

    status: str = IDLE
    since: int = 0  # first window of the pending or firing incident
    last: int = 0  # last window added to the evidence (pending) or to the calm run (firing)
    baseline: float = 0.0  # frozen when the rise was first seen
    strength: float = 0.0
    evidence: Tally = field(default_factory=Tally)
    calm: Tally = field(default_factory=Tally)  # firing: windows since the rate last looked high
    calm_since: int = 0
    quiet_until: int = -1  # cool-down: no new alert before this window

    def to_state(self) -> list[Any]:
        return [
            self.status, self.since, self.last, self.baseline, self.strength,
            self.evidence.to_state(), self.calm.to_state(), self.calm_since, self.quiet_until,
        ]

    @classmethod
    def from_state(cls, state: list[Any]) -> Track:
        status, since, last, baseline, strength, evidence, calm, calm_since, quiet_until = state
        if status not in (IDLE, PENDING, FIRING):
            raise ValueError(f"detector state: unknown track status {status!r}")
        return cls(
            str(status), int(since), int(last), float(baseline), float(strength),
            Tally.from_state(evidence), Tally.from_state(calm), int(calm_since), int(quiet_until),
        )


@dataclass(slots=True)
class DetectorState:
    window_seconds: int
    offset_seconds: int
    closed_through: int | None = None  # every window up to this index has been evaluated
    max_seen: float | None = None  # newest event time observed, epoch seconds
    watermark: float | None = None
    dropped_late: int = 0
    forgotten_through: int = -1  # quiet keys were last forgotten at the end of this window
    open: dict[int, dict[Key, Tally]] = field(default_factory=dict)
    keys: dict[Key, History] = field(default_factory=dict)  # matter keys only
    groups: dict[Group, History] = field(default_factory=dict)
    steps: dict[str, History] = field(default_factory=dict)
    tracks: dict[Key, Track] = field(default_factory=dict)

    def encode(self) -> bytes:
        # The decayed histories (thousands of keys) go as packed doubles: formatting floats as
        # text was most of the cost, and the worker saves the state after every batch.
        numbers = array("d")
        windows = array("q")
        names: dict[str, list[Any]] = {}
        for name, table in (("keys", self.keys), ("groups", self.groups), ("steps", self.steps)):
            names[name] = [list(key) if isinstance(key, tuple) else key for key in table]
            for history in table.values():
                numbers.append(history.ratings)
                numbers.append(history.negatives)
                windows.append(history.window)
        document = {
            "v": FORMAT_VERSION,
            "window": self.window_seconds,
            "offset": self.offset_seconds,
            "closed": self.closed_through,
            "max_seen": self.max_seen,
            "watermark": self.watermark,
            "dropped_late": self.dropped_late,
            "forgotten": self.forgotten_through,
            "open": [
                [window, [[list(key), tally.to_state()] for key, tally in cells.items()]]
                for window, cells in self.open.items()
            ],
            "histories": names,
            "tracks": [[list(key), track.to_state()] for key, track in self.tracks.items()],
        }
        header = json.dumps(document, ensure_ascii=False, separators=(",", ":"), check_circular=False).encode()
        if sys.byteorder == "big":  # the packed numbers are little-endian on every machine
            numbers.byteswap()
            windows.byteswap()
        body = _MAGIC + len(header).to_bytes(4, "little") + header + numbers.tobytes() + windows.tobytes()
        return zlib.compress(body, 1)

    @classmethod
    def decode(cls, data: bytes) -> DetectorState:
        try:
            body = zlib.decompress(data)
            if not body.startswith(_MAGIC):
                raise ValueError("no state header")
            length = int.from_bytes(body[4:8], "little")
            document = json.loads(body[8 : 8 + length].decode("utf-8"))
            if document.get("v") != FORMAT_VERSION:
                raise ValueError(f"format version {document.get('v')!r}, expected {FORMAT_VERSION}")
            names = document["histories"]
            count = sum(len(names[name]) for name in ("keys", "groups", "steps"))
            numbers, windows = array("d"), array("q")
            numbers.frombytes(body[8 + length : 8 + length + 16 * count])
            windows.frombytes(body[8 + length + 16 * count :])
            if len(windows) != count:
                raise ValueError("truncated histories")
        except (zlib.error, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"detector state: not a state written by encode(): {error}") from error
        if sys.byteorder == "big":
            numbers.byteswap()
            windows.byteswap()
        histories = (
            History(numbers[2 * index], numbers[2 * index + 1], windows[index]) for index in range(count)
        )
        return cls(
            int(document["window"]),
            int(document["offset"]),
            document["closed"],
            document["max_seen"],
            document["watermark"],
            int(document["dropped_late"]),
            int(document["forgotten"]),
            {
                int(window): {_key(key): Tally.from_state(tally) for key, tally in cells}
                for window, cells in document["open"]
            },
            {_key(key): next(histories) for key in names["keys"]},
            {(str(group[0]), str(group[1])): next(histories) for group in names["groups"]},
            {str(step): next(histories) for step in names["steps"]},
            {_key(key): Track.from_state(track) for key, track in document["tracks"]},
        )


def _key(raw: list[Any]) -> Key:
    province, matter, step = raw
    return str(province), None if matter is None else str(matter), str(step)
