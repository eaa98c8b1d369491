"""Compiles lexicon.py into one phrase trie and scans normalised comments with it.

Leftmost-longest matching over a character trie (dicts of dicts: one lookup per character, an
Aho-Corasick in spirit without failure links); punctuation comes out as boundary tokens, and the
numeric patterns run only when their anchor characters occur in the comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from haochaping.codes import Reason, StepKind
from haochaping.tracing import lexicon

# What a phrase does besides naming steps and reasons.
CONTRAST = 1  # 但是: what follows is the real complaint
CONTRAST_INLINE = 2  # 却: this clause is the real complaint
CONCESSION = 4  # 虽然: this clause is conceded
CAUSE = 8  # 因为: this clause says why
NEGATE_BEFORE = 16  # 不是 …: the next step is exonerated
NEGATE_AFTER = 32  # … 没问题: the previous step is exonerated
PRAISE = 64  # 很快, 不错
VAGUE = 128  # 不满意: negative, but says nothing about where
CLAUSE_START = 256  # a contrast marker only when it opens a clause (就是, 结果)
MATERIAL = 512  # 材料: what travels between offices
RESULT = 1024  # 证件: what travels to the citizen
TOPIC = 2048  # 的时候: the step before it is what the clause is about
TRANSIT = 4096  # 中间, 在路上: something is moving
BOUNDARY = 8192  # ，: a clause ends
SENTENCE_END = 16384  # 。: a sentence ends (contrast does not reach past it)

# Clause boundaries; 、 is deliberately absent (受理、审核都很慢 lists two subjects of one complaint).
SENTENCE_ENDS = "。.!！?？;；\n\r…"
CLAUSE_ENDS = ",，:：~～ \t()（）【】[]\"“”'‘’《》<>"

Weighted = tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class Cue:
    labels: Weighted  # step kinds, JOURNEY or POLICY, strongest first
    reasons: Weighted
    flags: int
    complaint: bool = field(init=False)  # names a reason or is a vague complaint
    strongest: float = field(init=False)  # weight of the strongest label (0 if none)

    def __post_init__(self) -> None:
        object.__setattr__(self, "complaint", bool(self.reasons) or bool(self.flags & VAGUE))
        object.__setattr__(self, "strongest", self.labels[0][1] if self.labels else 0.0)


class Token(NamedTuple):
    start: int
    end: int
    cue: Cue


_EMPTY = Cue((), (), 0)
_END = ""  # key of a phrase's Cue inside its last trie node (no character is empty)
_LABELS = frozenset(StepKind) | {lexicon.JOURNEY, lexicon.POLICY}
_REASONS = frozenset(Reason) | {lexicon.FAILURE}


class PhraseTable:
    """The merged vocabulary as a trie, plus the numeric patterns indexed by anchor character."""

    def __init__(self) -> None:
        labels: dict[str, dict[str, float]] = {}
        reasons: dict[str, dict[str, float]] = {}
        flags: dict[str, int] = {}
        for label, entries in lexicon.STEP_PHRASES.items():
            _check(label, _LABELS, "label")
            for phrase, weight in entries:
                _merge(labels, phrase, label, weight)
        for reason, entries in lexicon.REASON_PHRASES.items():
            _check(reason, _REASONS, "reason")
            for phrase, weight in entries:
                _merge(reasons, phrase, reason, weight)
        for phrase, weight in lexicon.FAILURE_PHRASES:
            _merge(reasons, phrase, lexicon.FAILURE, weight)
        for words, flag in (
            (lexicon.CONTRAST, CONTRAST),
            (lexicon.CONTRAST_INLINE, CONTRAST_INLINE),
            (lexicon.CONCESSION, CONCESSION),
            (lexicon.CAUSE, CAUSE),
            (lexicon.NEGATE_BEFORE, NEGATE_BEFORE),
            (lexicon.NEGATE_AFTER, NEGATE_AFTER),
            (lexicon.PRAISE, PRAISE),
            (lexicon.VAGUE, VAGUE),
            (lexicon.NEUTRAL, 0),
            (lexicon.MATERIAL_NOUNS, MATERIAL),
            (lexicon.RESULT_NOUNS, RESULT),
            (lexicon.TOPIC, TOPIC),
            (lexicon.TRANSIT, TRANSIT),
            (tuple(CLAUSE_ENDS), BOUNDARY),
            (tuple(SENTENCE_ENDS), BOUNDARY | SENTENCE_END),
        ):
            for word in words:
                flags[word] = flags.get(word, 0) | flag
        for word in lexicon.CLAUSE_START_ONLY:
            flags[word] = flags.get(word, 0) | CLAUSE_START

        self.cues: dict[str, Cue] = {}
        for phrase in set(labels) | set(reasons) | set(flags):
            cue = Cue(
                labels=_ordered(labels.get(phrase, {})),
                reasons=_ordered(reasons.get(phrase, {})),
                flags=flags.get(phrase, 0),
            )
            # Neutral words only stop a shorter marker matching inside them; they emit nothing.
            self.cues[phrase.lower()] = cue if cue.labels or cue.reasons or cue.flags else _EMPTY
        self.trie: dict[str, Any] = {}
        for phrase, cue in self.cues.items():
            node = self.trie
            for char in phrase:
                node = node.setdefault(char, {})
            node[_END] = cue

        self.patterns: list[tuple[re.Pattern[str], tuple[frozenset[str], ...], Cue, bool]] = []
        self.pattern_index: dict[str, list[int]] = {}
        for number, pattern in enumerate(lexicon.PATTERNS):
            for label, _ in pattern.labels:
                _check(label, _LABELS, "label")
            for reason, _ in pattern.reasons:
                _check(reason, _REASONS, "reason")
            anchors = tuple(frozenset(anchor) for anchor in pattern.anchors)
            cue = Cue(pattern.labels, pattern.reasons, 0)
            self.patterns.append((re.compile(pattern.regex), anchors, cue, pattern.absorbs))
            for char in anchors[0]:
                self.pattern_index.setdefault(char, []).append(number)
        self.comment_patterns = [
            (re.compile(regex), Cue(found_labels, found_reasons, 0))
            for regex, found_labels, found_reasons in lexicon.COMMENT_PATTERNS
        ]

    def scan(self, text: str) -> list[Token]:
        """Tokens of the whole text, leftmost-longest, numeric patterns merged into them."""
        tokens: list[Token] = []
        root = self.trie
        end = len(text)
        position = 0
        while position < end:
            node = root.get(text[position])
            if node is None:
                position += 1
                continue
            best_end = 0
            best: Cue | None = None
            reach = position + 1
            while True:
                cue = node.get(_END)
                if cue is not None:
                    best_end, best = reach, cue
                if reach >= end:
                    break
                node = node.get(text[reach])
                if node is None:
                    break
                reach += 1
            if best is None:
                position += 1
                continue
            if best is not _EMPTY:
                tokens.append(Token(position, best_end, best))
            position = best_end
        found = self._patterns(text)
        return _merge_patterns(tokens, found) if found else tokens

    def _patterns(self, text: str) -> list[tuple[Token, bool]]:
        present = set(text)
        candidates: set[int] = set()
        for char in present.intersection(self.pattern_index):
            candidates.update(self.pattern_index[char])
        found: list[tuple[Token, bool]] = []
        for number in sorted(candidates):
            regex, anchors, cue, absorbs = self.patterns[number]
            if all(not anchor.isdisjoint(present) for anchor in anchors[1:]):
                found.extend((Token(m.start(), m.end(), cue), absorbs) for m in regex.finditer(text))
        return found


def _merge_patterns(tokens: list[Token], found: list[tuple[Token, bool]]) -> list[Token]:
    """A pattern adds to the words it spans (重新+实名认证 keeps IDENTITY), or, if it absorbs,
    replaces their steps and reasons (指南和窗口说的不一样 is about the guide, not the window)."""
    found.sort(key=lambda item: (item[0].start, -item[0].end))
    merged: list[Token] = []
    rest = tokens
    for pattern, absorbs in found:
        if merged and pattern.start < merged[-1].end:
            continue  # overlapping patterns: the earlier, longer one stands
        covered = [t for t in rest if t.start < pattern.end and pattern.start < t.end]
        if any(t.cue.flags & BOUNDARY for t in covered):
            continue  # never across punctuation
        if absorbs:
            # Words sticking out of the pattern stay themselves (核验系统 in 核验系统一直显示超时).
            outside = [t for t in covered if t.start < pattern.start or t.end > pattern.end]
            covered = [t for t in covered if t not in outside]
            start = max([pattern.start, *(t.end for t in outside if t.start < pattern.start)])
            end = min([pattern.end, *(t.start for t in outside if t.end > pattern.end)])
            if start >= end:
                continue
            flags = 0
            for token in covered:
                flags |= token.cue.flags
            cue = Cue(pattern.cue.labels, pattern.cue.reasons, flags & ~(MATERIAL | RESULT))
        else:
            start = min([pattern.start, *(t.start for t in covered)])
            end = max([pattern.end, *(t.end for t in covered)])
            cue = _combine([pattern.cue, *(t.cue for t in covered)])
        if covered:
            rest = [t for t in rest if t not in covered]
        merged.append(Token(start, end, cue))
    merged.extend(rest)
    merged.sort(key=lambda t: t.start)
    return merged


def _combine(cues: list[Cue]) -> Cue:
    labels: dict[str, float] = {}
    reasons: dict[str, float] = {}
    flags = 0
    for cue in cues:
        for label, weight in cue.labels:
            labels[label] = max(weight, labels.get(label, 0.0))
        for reason, weight in cue.reasons:
            reasons[reason] = max(weight, reasons.get(reason, 0.0))
        flags |= cue.flags
    return Cue(_ordered(labels), _ordered(reasons), flags)


def _merge(table: dict[str, dict[str, float]], phrase: str, code: str, weight: float) -> None:
    if not 0.0 < weight <= 1.0:
        raise ValueError(f"lexicon: weight of {phrase!r} for {code} must be in (0, 1], got {weight}")
    slot = table.setdefault(phrase, {})
    slot[code] = max(weight, slot.get(code, 0.0))


def _ordered(weights: dict[str, float]) -> Weighted:
    return tuple(sorted(weights.items(), key=lambda item: (-item[1], item[0])))


def _check(code: str, known: frozenset[str], what: str) -> None:
    if code not in known:
        raise ValueError(f"lexicon: unknown {what} {code!r}")


@lru_cache(maxsize=1)
def phrase_table() -> PhraseTable:
    return PhraseTable()
