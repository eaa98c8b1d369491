"""Everything the spike detector remembers, and its encoding to bytes for a changelogged table.

The worker stores `encode()` after each batch and decodes it on restart; the state is a
versioned, compressed JSON document, so an upgrade can read what an older worker wrote.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from haochaping.alerts.baseline import History
from haochaping.alerts.evidence import Tally

FORMAT_VERSION = 1

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
            "keys": [[list(key), _history(history)] for key, history in self.keys.items()],
            "groups": [[list(group), _history(history)] for group, history in self.groups.items()],
            "steps": [[step, _history(history)] for step, history in self.steps.items()],
            "tracks": [[list(key), track.to_state()] for key, track in self.tracks.items()],
        }
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return zlib.compress(text.encode("utf-8"), 6)

    @classmethod
    def decode(cls, data: bytes) -> DetectorState:
        try:
            document = json.loads(zlib.decompress(data).decode("utf-8"))
        except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"detector state: not a state written by encode(): {error}") from error
        if document.get("v") != FORMAT_VERSION:
            raise ValueError(f"detector state: format version {document.get('v')!r}, expected {FORMAT_VERSION}")
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
            {_key(key): _from_history(history) for key, history in document["keys"]},
            {(str(group[0]), str(group[1])): _from_history(history) for group, history in document["groups"]},
            {str(step): _from_history(history) for step, history in document["steps"]},
            {_key(key): Track.from_state(track) for key, track in document["tracks"]},
        )


def _key(raw: list[Any]) -> Key:
    province, matter, step = raw
    return str(province), None if matter is None else str(matter), str(step)


def _history(history: History) -> list[float]:
    return [history.ratings, history.negatives, history.window]


def _from_history(raw: list[Any]) -> History:
    ratings, negatives, window = raw
    return History(float(ratings), float(negatives), int(window))
