"""Rating comments composed from the vocabulary: complaints about one step, praise, vague remarks.

The rating maker calls these with what actually happened in the case (which step, how long, how
many send-backs), so the text, the timeline and the ground truth tell the same story.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from haochaping.codes import Reason, StepKind
from haochaping.simulation import vocabulary as V
from haochaping.simulation.orgs import Place

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1..99 the way people write counts: 两 for 2, 十二, 二十三."""
    if n == 2:
        return "两"
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _DIGITS[tens]
    return head + "十" + (_DIGITS[ones] if ones else "")


def duration_phrase(rng: random.Random, days: float) -> str:
    """How a citizen says a waiting time of `days` calendar days."""
    if days < 0.25:
        return rng.choice(("好几个小时", "半天", "一上午"))
    if days < 1.5:
        return rng.choice(("一整天", "一天", "大半天"))
    n = round(days)
    if n <= 7:
        options = [f"{chinese_number(n)}天", f"{n}天", "好几天"] + (["快一周"] if n >= 5 else [])
    elif n <= 10:
        options = ["一周多", f"{n}天", "十来天"]
    elif n <= 13:
        options = ["快两周", f"{n}天", "将近两个星期"]
    elif n <= 20:
        options = ["半个多月", "两个多星期", f"{n}天"]
    elif n <= 29:
        options = ["快一个月", "三个多星期", f"{n}天"]
    elif n <= 45:
        options = ["一个多月", "一个月", f"{n}天"]
    else:
        options = ["两个月", "一个半月", f"{n}天"]
    return rng.choice(options)


def times_phrase(rng: random.Random, count: int) -> str:
    if count <= 2:
        return rng.choice(("两次", "两遍", "两回"))
    if count == 3:
        return rng.choice(("三遍", "三次"))
    return rng.choice(("好几次", f"{chinese_number(count)}次", f"{chinese_number(count)}遍"))


def trips_phrase(rng: random.Random, trips: int) -> str:
    if trips <= 2:
        return rng.choice(("两趟", "两次"))
    return rng.choice((f"{chinese_number(trips)}趟", "好几趟", f"{chinese_number(trips)}趟"))


@dataclass(frozen=True, slots=True)
class Scene:
    """Who and where: the matter and the two provinces of one case."""

    matter_code: str
    matter_name: str
    department: str
    here: Place  # the receiving province, where the citizen lives
    there: Place  # the other province (handling, 户籍地/参保地)


@dataclass(frozen=True, slots=True)
class Happening:
    """What went wrong at one step, as the timeline recorded it."""

    step: StepKind
    reason: Reason
    trace: str  # "breach", "return", "fail" or "silent"
    days: float  # calendar days the step took
    count: int  # send-backs or failed checks
    limit: int  # the step's limit in working days


class _Fill(dict[str, str]):
    """Placeholder values drawn only when a template uses them, so unused ones cost nothing."""

    def __init__(self, rng: random.Random, scene: Scene, happening: Happening | None, trips: int) -> None:
        super().__init__()
        self._rng = rng
        self._scene = scene
        self._happening = happening
        self._trips = trips

    def __missing__(self, key: str) -> str:
        value = self._draw(key)
        self[key] = value
        return value

    def _draw(self, key: str) -> str:
        rng, scene, happening = self._rng, self._scene, self._happening
        here, there = scene.here, scene.there
        if key == "dur":
            days = happening.days if happening is not None else rng.uniform(2, 20)
            return duration_phrase(rng, days)
        if key == "times":
            count = happening.count + 1 if happening is not None else rng.randint(2, 4)
            return times_phrase(rng, max(2, count))
        if key == "trips":
            return trips_phrase(rng, self._trips)
        if key == "other":
            return rng.choice((f"{there.short}那边", "那边", "对方", there.short))
        if key == "here":
            return rng.choice(("这边", f"{here.short}这边", here.short))
        if key == "home":
            return rng.choice(("老家", "户籍地", f"{there.short}老家", there.short))
        if key == "here_name":
            return rng.choice((here.short, here.city))
        if key == "home_name":
            return there.short
        if key == "portal":
            return here.portal
        if key == "material":
            return rng.choice(V.MATERIALS.get(scene.matter_code, V.GENERIC_MATERIALS))
        if key == "office":
            return rng.choice(V.OFFICE_WORDS.get(scene.department, V.GENERIC_OFFICE))
        if key == "matter":
            return rng.choice(V.MATTER_WORDS.get(scene.matter_code, (scene.matter_name,)))
        if key == "limit":
            return str(happening.limit) if happening is not None else "5"
        if key == "step":
            step = happening.step if happening is not None else StepKind.REVIEW
            return rng.choice(V.STEP_WORDS[step])
        raise KeyError(key)


def _compose(rng: random.Random, core: str, fill: _Fill, praise_before: Sequence[StepKind] = ()) -> str:
    """Opener, optional praise of an earlier step and "but", the complaint, optional closing."""
    parts: list[str] = []
    if rng.random() < 0.3:
        parts.append(rng.choice(V.OPENERS))
    if praise_before and rng.random() < 0.25:
        parts.append(rng.choice(V.CONTRAST[rng.choice(praise_before)]) + rng.choice(V.BUT))
    parts.append(core)
    roll = rng.random()
    if roll < 0.55:
        parts.append(rng.choice(V.CLOSERS))
    elif roll < 0.7:
        parts.append("。")
    return "".join(parts).format_map(fill)


def complaint(
    rng: random.Random,
    scene: Scene,
    happening: Happening,
    praise_before: Sequence[StepKind] = (),
    vague: bool = False,
) -> str:
    """A 差评 comment about the step and reason of `happening`."""
    fill = _Fill(rng, scene, happening, trips=happening.count + 1)
    if vague:
        text = rng.choice(V.VAGUE[happening.trace])
        return text + rng.choice(("", "。", "！", "！！"))
    templates = V.CORE.get((happening.step, happening.reason)) or V.BY_REASON.get(
        happening.reason, V.BY_REASON[Reason.OTHER]
    )
    usable = [step for step in praise_before if step in V.CONTRAST]
    return _compose(rng, rng.choice(templates), fill, usable)


def journey(rng: random.Random, scene: Scene, trips: int) -> str:
    return _compose(rng, rng.choice(V.JOURNEY), _Fill(rng, scene, None, trips))


def policy(rng: random.Random, scene: Scene) -> str:
    specific = V.POLICY.get(scene.department, ())
    templates = specific if specific and rng.random() < 0.8 else V.POLICY_ANY
    return _compose(rng, rng.choice(templates), _Fill(rng, scene, None, 2))


def unknown(rng: random.Random) -> str:
    return rng.choice(V.UNKNOWN) + rng.choice(("", "。", "！"))


def praise(rng: random.Random, scene: Scene, days: float) -> str:
    fill = _Fill(rng, scene, Happening(StepKind.DELIVER, Reason.OTHER, "silent", days, 0, 1), 1)
    first = rng.choice(V.PRAISE)
    text = first
    if rng.random() < 0.45:
        second = rng.choice(V.PRAISE)
        if second != first:
            text += "，" + second
    if rng.random() < 0.15:
        text = "{matter}很顺利，" + text
    return (text + rng.choice(V.PRAISE_ENDS)).format_map(fill)


def mild(rng: random.Random, scene: Scene, happening: Happening) -> str:
    return rng.choice(V.MILD).format_map(_Fill(rng, scene, happening, 1))


def hotline_praise(rng: random.Random, scene: Scene) -> str:
    return rng.choice(V.HOTLINE_PRAISE).format_map(_Fill(rng, scene, None, 1)) + rng.choice(V.PRAISE_ENDS)


def hotline_prefix(rng: random.Random) -> str:
    return rng.choice(V.HOTLINE_PREFIX)
