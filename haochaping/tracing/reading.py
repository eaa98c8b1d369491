"""Reads a comment: which steps it names, what it says went wrong, and how strongly.

Clauses are split on punctuation and contrast words; inside a clause each step mention forms a
frame with the words that follow it, so praise, negation and complaints attach to the right step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from haochaping.tracing import lexicon
from haochaping.tracing.normalise import normalise
from haochaping.tracing.phrases import (
    BOUNDARY,
    CAUSE,
    CLAUSE_START,
    CONCESSION,
    CONTRAST,
    CONTRAST_INLINE,
    MATERIAL,
    NEGATE_AFTER,
    NEGATE_BEFORE,
    PRAISE,
    RESULT,
    SENTENCE_END,
    TOPIC,
    TRANSIT,
    Cue,
    Token,
    Weighted,
    phrase_table,
)
from haochaping.tracing.stories import story_table

# Characters that may sit between two step words of one group: 受理和审核, 审核、审批.
_JOINERS = frozenset("和与及跟、还有以及或者/+&也")

# How a clause's position in its sentence scales what it says (see docs/tracing.md).
EMPHASISED = 1.5  # after 但是/却, or the main clause after 虽然
CONCEDED = 0.4  # a 虽然 clause
SETUP = 0.7  # a clause before a later 但是 in the same sentence (often the promise or the praise)
CAUSAL = 1.3  # a 因为 clause names the cause
BARE_MENTION = 0.6  # a step named with no complaint attached (邮寄，太慢 still counts)
# In a long narrative (a 12345 transcript) naming a step is telling the story, not complaining.
NARRATIVE_LENGTH = 120
NARRATIVE_MENTION = 0.25
SETTING_SHARE = 0.3  # a step a story names as its setting (where the lost hand-off began)
DEMAND_WEIGHT = 0.8  # what a transcript's closing demand (诉求：…) names, on top of the story
_DEMAND = re.compile(r"(诉求|希望|要求|建议)[:：]")
PRAISED = 0.0  # a step named with praise and no complaint (受理很快) is not a candidate
NEGATION_REACH = 3  # characters allowed between 不是 and the step it exonerates
PREDICATE_REACH = 2  # characters between a step and a weak complaint word that belongs to it
TOPIC_OTHERS = 0.5  # other steps named in a clause that has a topic step (…的时候)
WEAK_LABEL = 0.6  # a composite word this weak after a step is that step's predicate (短信也没收到)
PULL_MIN = 0.7  # only clear step-defining words pull (要纸质 does, 纸质的 does not)
PULLED = 1.2  # a step-defining reason (REASON_PULL) counts a little more than the noun it sits by
MATERIAL_MOVING = 0.8  # 材料 in a clause where something moves: the hand-off


@dataclass(slots=True)
class Reading:
    """What a comment says, before other evidence is weighed in."""

    labels: dict[str, float] = field(default_factory=dict)  # step/JOURNEY/POLICY → score
    first_seen: dict[str, int] = field(default_factory=dict)
    label_reasons: dict[str, dict[str, float]] = field(default_factory=dict)
    reasons: dict[str, float] = field(default_factory=dict)  # every reason in the comment
    implied: dict[str, float] = field(default_factory=dict)  # labels implied by step-less reasons
    exonerated: set[str] = field(default_factory=set)
    label_evidence: dict[str, list[str]] = field(default_factory=dict)
    reason_evidence: list[str] = field(default_factory=list)
    negation_evidence: list[str] = field(default_factory=list)
    complaint: bool = False  # some negative word, even a vague one
    # Step-defining reasons found beside another step: (home, reason, weight, position, host labels).
    pulls: list[tuple[str, str, float, int, frozenset[str]]] = field(default_factory=list)

    @property
    def names_a_step(self) -> bool:
        return bool(self.labels)


@dataclass(slots=True)
class _Clause:
    tokens: list[Token]
    sentence: int
    start: int
    contrast: bool = False
    concession: bool = False
    cause: bool = False


@dataclass(slots=True)
class _Frame:
    group: list[Token]
    predicate: list[Token] = field(default_factory=list)


def read_comment(comment: str | None) -> Reading:
    """Read one comment. The result is shared by the cache below: treat it as read-only."""
    reading = Reading()
    if not comment:
        return reading
    text = normalise(comment)
    clauses = _clauses(text)
    factors = _clause_factors(clauses)
    materials_only = _mentions_materials_only(clauses)
    bare = NARRATIVE_MENTION if len(text) > NARRATIVE_LENGTH else BARE_MENTION
    for clause, factor in zip(clauses, factors, strict=True):
        _read_clause(comment, text, clause, factor, reading, materials_only, bare)
    _read_across_clauses(comment, text, reading)
    _read_stories(comment, text, reading)
    _apply_pulls(reading)
    _read_demand(comment, text, reading)
    return reading


def _read_demand(original: str, text: str, reading: Reading) -> None:
    """A 12345 transcript ends with the caller's demand (诉求：…): what it asks to fix is the fault.

    The demand is read again on its own and what it names counts DEMAND_WEIGHT more.
    """
    match = _DEMAND.search(text)
    if match is None or match.end() >= len(text):
        return
    demand = read_comment(original[match.end() :])
    for label, score in demand.labels.items():
        if label in reading.exonerated:
            continue
        reading.labels[label] = reading.labels.get(label, 0.0) + DEMAND_WEIGHT * min(score, 1.0)
        reading.first_seen.setdefault(label, match.end() + demand.first_seen.get(label, 0))
        reading.label_evidence.setdefault(label, []).append(f"demand:{label}")
        for reason, weight in demand.label_reasons.get(label, {}).items():
            reasons = reading.label_reasons.setdefault(label, {})
            reasons[reason] = reasons.get(reason, 0.0) + weight


def _read_stories(original: str, text: str, reading: Reading) -> None:
    """What the comment tells across its clauses (tracing/stories.py) counts as naming the step.

    The steps a story mentions as its setting keep only SETTING_SHARE of their own words' score.
    """
    told = story_table().find(text)
    setting = {label for story, _, _ in told if story.labels for label in story.setting}
    setting -= {label for story, _, _ in told for label, _ in story.labels}
    for label in setting & reading.labels.keys():
        reading.labels[label] *= SETTING_SHARE
    for story, start, end in told:
        reading.complaint = True
        quote = f"story:{story.name}:{original[start:end][:40]}"
        for label, weight in story.labels:
            reading.labels[label] = reading.labels.get(label, 0.0) + weight
            reading.first_seen.setdefault(label, start)
            reading.label_evidence.setdefault(label, []).append(quote)
        for reason, weight in story.reasons:
            reading.reasons[reason] = reading.reasons.get(reason, 0.0) + weight
            for label, _ in story.labels:
                reasons = reading.label_reasons.setdefault(label, {})
                reasons[reason] = reasons.get(reason, 0.0) + weight
        if not story.labels:
            reading.reason_evidence.append(quote)


def _apply_pulls(reading: Reading) -> None:
    """窗口还是要实体卡: the window is where, but refusing a document is the check (VERIFY).

    Unless another step of the comment already carries that reason in its own words
    (电子证照核验不通过，非要纸质原件: the failed technical check, DATA_SHARE, is the cause).
    """
    for home, reason, weight, position, hosts in reading.pulls:
        located = any(
            label not in hosts and label != home and reasons.get(reason, 0.0) >= PULL_MIN
            for label, reasons in reading.label_reasons.items()
        )
        if located:
            continue
        reading.labels[home] = reading.labels.get(home, 0.0) + PULLED * weight
        reading.first_seen.setdefault(home, position)
        reasons = reading.label_reasons.setdefault(home, {})
        reasons[reason] = reasons.get(reason, 0.0) + weight


def _read_across_clauses(original: str, text: str, reading: Reading) -> None:
    """Patterns spanning clauses: 审核员说不行，窗口说可以 (two offices, two standards)."""
    if text.count("说") < 2:
        return  # every cross-clause pattern quotes two sides
    for regex, cue in phrase_table().comment_patterns:
        match = regex.search(text)
        if match is None:
            continue
        reading.complaint = True
        labels = [label for label, _ in cue.labels]
        for label, weight in cue.labels:
            reading.labels[label] = reading.labels.get(label, 0.0) + weight
            reading.first_seen.setdefault(label, match.start())
            reading.label_evidence.setdefault(label, []).append(f"text:{original[match.start() : match.end()]}")
        for reason, weight in cue.reasons:
            reading.reasons[reason] = reading.reasons.get(reason, 0.0) + weight
            for label in labels:
                reasons = reading.label_reasons.setdefault(label, {})
                reasons[reason] = reasons.get(reason, 0.0) + weight


def _clauses(text: str) -> list[_Clause]:
    clauses: list[_Clause] = []
    sentence = 0
    start = 0
    inside: list[Token] = []
    for token in phrase_table().scan(text):
        if token.cue.flags & BOUNDARY:
            if inside:
                clauses.extend(_split_on_contrast(inside, sentence, start))
                inside = []
            if token.cue.flags & SENTENCE_END:
                sentence += 1
            start = token.end
        else:
            inside.append(token)
    if inside:
        clauses.extend(_split_on_contrast(inside, sentence, start))
    return clauses


def _split_on_contrast(tokens: list[Token], sentence: int, start: int) -> list[_Clause]:
    """A contrast word (但是) starts a new, emphasised clause within the punctuation clause."""
    clauses = [_Clause([], sentence, start)]
    for token in tokens:
        flags = token.cue.flags
        current = clauses[-1]
        if flags & CONTRAST:
            opens_clause = token.start == start
            if not flags & CLAUSE_START or opens_clause:
                if current.tokens:
                    current = _Clause([], sentence, token.start)
                    clauses.append(current)
                current.contrast = True
                continue
        if flags & CONTRAST_INLINE:
            current.contrast = True
            continue
        if flags & CONCESSION:
            current.concession = True
            continue
        if flags & CAUSE:
            current.cause = True
        current.tokens.append(token)
    return [clause for clause in clauses if clause.tokens]


def _clause_factors(clauses: list[_Clause]) -> list[float]:
    factors = []
    for index, clause in enumerate(clauses):
        factor = 1.0
        later = clauses[index + 1 :]
        if clause.contrast:
            factor = EMPHASISED
        elif clause.concession:
            factor = CONCEDED
        elif any(other.contrast and other.sentence == clause.sentence for other in later):
            factor = SETUP
        elif index > 0 and clauses[index - 1].concession and clauses[index - 1].sentence == clause.sentence:
            factor = EMPHASISED
        if clause.cause:
            factor *= CAUSAL
        factors.append(factor)
    return factors


def _mentions_materials_only(clauses: list[_Clause]) -> bool:
    """The comment talks about materials and never about a result (证件, 执照)."""
    flags = 0
    for clause in clauses:
        for token in clause.tokens:
            flags |= token.cue.flags
    return bool(flags & MATERIAL) and not flags & RESULT


def _materials_in_transit(tokens: list[Token], materials_only: bool) -> list[Token]:
    """材料寄过去 / 材料中间走了十天: materials moving between offices are TRANSFER, not DELIVER.

    Also in a later clause of a comment about materials only (收了材料，根本没寄出去).
    """
    flags = MATERIAL if materials_only else 0
    for token in tokens:
        flags |= token.cue.flags
    moving = flags & TRANSIT or any(label == "DELIVER" for t in tokens for label, _ in t.cue.labels)
    if not moving or not flags & MATERIAL or flags & RESULT:
        return tokens
    relabelled = []
    for token in tokens:
        cue = token.cue
        if cue.flags & MATERIAL:
            weights = [weight for label, weight in cue.labels if label in ("DELIVER", "SUBMIT", "TRANSFER")]
            labels: Weighted = (("TRANSFER", max([MATERIAL_MOVING, *weights])),)
            token = Token(token.start, token.end, Cue(labels, cue.reasons, cue.flags))
        elif any(label == "DELIVER" for label, _ in cue.labels):
            labels = tuple(("TRANSFER" if label == "DELIVER" else label, weight) for label, weight in cue.labels)
            token = Token(token.start, token.end, Cue(labels, cue.reasons, cue.flags))
        relabelled.append(token)
    return relabelled


def _frames(clause: _Clause, text: str) -> tuple[list[Token], list[_Frame]]:
    """Split a clause into a prefix (words before any step) and frames (step words + predicate)."""
    prefix: list[Token] = []
    frames: list[_Frame] = []
    for token in clause.tokens:
        cue = token.cue
        if not cue.labels:
            (frames[-1].predicate if frames else prefix).append(token)
            continue
        if frames:
            frame = frames[-1]
            last = frame.predicate[-1] if frame.predicate else frame.group[-1]
            gap = text[last.end : token.start]
            weak = cue.strongest <= WEAK_LABEL and bool(cue.reasons)
            if weak and len(gap) <= PREDICATE_REACH:
                frame.predicate.append(token)  # 短信也没收到: the complaint, not a new step
                continue
            if not frame.predicate and all(char in _JOINERS for char in gap):
                frame.group.append(token)  # 受理和审核都很慢
                continue
        frames.append(_Frame([token]))
    return prefix, frames


def _read_clause(
    original: str, text: str, clause: _Clause, factor: float, reading: Reading, materials_only: bool, bare: float
) -> None:
    clause.tokens = _materials_in_transit(clause.tokens, materials_only)
    prefix, frames = _frames(clause, text)
    negators = [t for t in clause.tokens if t.cue.flags & NEGATE_BEFORE]
    for token in clause.tokens:
        if token.cue.complaint:
            reading.complaint = True
        for reason, weight in token.cue.reasons:
            reading.reasons[reason] = reading.reasons.get(reason, 0.0) + weight * factor
            reading.reason_evidence.append(f"text:{original[token.start : token.end]}")
    if not frames:
        for token in prefix:
            for reason, weight in token.cue.reasons:
                label, strength = lexicon.REASON_IMPLIES.get(reason, ("", 0.0))
                if label:
                    implied = weight * strength * factor
                    reading.implied[label] = reading.implied.get(label, 0.0) + implied
        return
    complaints = [t for t in clause.tokens if t.cue.complaint]
    topics = [frame for frame in frames if _is_topic(frame, text)]
    for index, frame in enumerate(frames):
        words = frame.predicate + (prefix if index == 0 else [])
        scale = factor
        if frame in topics:
            # 核对原件的时候说复印件不清楚: what goes wrong in the clause happened at this step,
            words = words + [t for t in complaints if t not in words and t not in frame.group]
        elif topics:
            scale *= TOPIC_OTHERS  # and the other things it names are objects of that step.
        _read_frame(original, text, frame, words, negators, scale, reading, bare)


def _is_topic(frame: _Frame, text: str) -> bool:
    if not frame.predicate or not frame.predicate[0].cue.flags & TOPIC:
        return False
    return frame.predicate[0].start - frame.group[-1].end <= 1


def _read_frame(
    original: str,
    text: str,
    frame: _Frame,
    words: list[Token],
    negators: list[Token],
    factor: float,
    reading: Reading,
    bare: float,
) -> None:
    start = frame.group[0].start
    every = frame.group + words
    complaint = any(t.cue.complaint for t in every)
    praised = not complaint and any(t.cue.flags & PRAISE for t in every)
    exonerated = any(t.cue.flags & NEGATE_AFTER for t in words) or any(
        n.end <= start and start - n.end <= NEGATION_REACH for n in negators
    )
    labels = {label for token in frame.group for label, _ in token.cue.labels}
    if exonerated:
        reading.exonerated |= labels
        phrase = original[frame.group[0].start : frame.group[-1].end]
        reading.negation_evidence.append(f"text:{phrase} (not {'/'.join(sorted(labels))})")
        return
    scale = factor * (PRAISED if praised else 1.0 if complaint else bare)
    if scale <= 0.0:
        return
    for token in frame.group:
        phrase = original[token.start : token.end]
        for label, weight in token.cue.labels:
            reading.labels[label] = reading.labels.get(label, 0.0) + weight * scale
            reading.first_seen.setdefault(label, token.start)
            reading.label_evidence.setdefault(label, []).append(f"text:{phrase}")
    for token in every:
        for reason, weight in token.cue.reasons:
            for label in labels:
                reasons = reading.label_reasons.setdefault(label, {})
                reasons[reason] = reasons.get(reason, 0.0) + weight * factor
            home = lexicon.REASON_PULL.get(reason)
            if home is not None and home not in labels and weight >= PULL_MIN:
                reading.pulls.append((home, reason, weight * factor, token.start, frozenset(labels)))


# Short comments repeat a lot in real streams (不满意, 太慢了, 差评, empty); reading each distinct
# text once saves most of the text work. The bench measures with this cache off.
cached_read_comment = lru_cache(maxsize=8192)(read_comment)


def prepare() -> None:
    """Compile the phrase trie and the stories now (~0.1 s), not inside the first comment read."""
    phrase_table()
    story_table()
