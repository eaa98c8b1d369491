"""The 跨省通办 matter catalog: each matter's process per handling mode, loaded from data/catalog.toml.

Tracing and the timeline look up a case's process here to know who performs each step and its
time limit; a matter code missing from the catalog falls back to the generic process of its mode.
A province may run a matter's mode with other limits, roles or steps (an override, docs/catalog.md):
each step is measured against the process of the province whose office performed it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from haochaping.codes import PROVINCES, Mode, Role, StepKind

# The wire's identifier charset: a catalog code must be usable as a RatingEvent matter_code.
_CODE_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_MATTER_KEYS = frozenset({"code", "name", "department", "modes", "processes", "overrides"})
_STEP_KEYS = frozenset({"step", "role", "limit_days"})
_OVERRIDE_KEYS = frozenset({"province", "mode", "steps", "process"})
_SIX_DIGITS = re.compile(r"^[0-9]{6}$")
_TOP_KEYS = frozenset({"matters", "generic"})

_E = TypeVar("_E", Mode, Role, StepKind)


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the file, the matter and the field."""


@dataclass(frozen=True, slots=True)
class StepSpec:
    step: StepKind
    role: Role
    limit_days: int  # working days


@dataclass(frozen=True, slots=True)
class Process:
    mode: Mode
    steps: tuple[StepSpec, ...]
    province: str | None = None  # None: the national process; else the province that runs it so

    def spec_for(self, step: StepKind) -> StepSpec | None:
        # A process has at most 13 steps; a scan beats building an index per instance.
        for spec in self.steps:
            if spec.step == step:
                return spec
        return None


_NO_PROVINCES: Mapping[str, Process] = MappingProxyType({})
_NO_OVERRIDES: Mapping[Mode, Mapping[str, Process]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Matter:
    code: str
    name: str
    department: str
    processes: Mapping[Mode, Process]  # the national process of each mode
    # mode → province → that province's whole process (an override already applied); mostly empty
    overrides: Mapping[Mode, Mapping[str, Process]] = field(default_factory=lambda: _NO_OVERRIDES)


@dataclass(frozen=True, slots=True)
class Catalog:
    matters: Mapping[str, Matter]
    generic: Mapping[Mode, Process]

    def process(self, matter_code: str, mode: Mode, province: str | None = None) -> tuple[Process, bool]:
        """The matter's process for the mode, or the generic one.

        With a province, that province's process if it has an override for the matter and mode,
        else the national one. The bool says whether the matter (and mode) is in the catalog.
        """
        matter = self.matters.get(matter_code)
        if matter is not None:
            process = matter.processes.get(mode)
            if process is not None:
                if province is not None and matter.overrides:
                    local = matter.overrides.get(mode, _NO_PROVINCES).get(province)
                    if local is not None:
                        return local, True
                return process, True
        return self.generic[mode], False

    def overrides(self, matter_code: str, mode: Mode) -> Mapping[str, Process]:
        """Province → its process, for the provinces that run this matter's mode differently.

        Empty for most matters, and for codes not in the catalog (the generic processes have no
        overrides). The timeline asks this once per case and picks each step's province from it.
        """
        matter = self.matters.get(matter_code)
        if matter is None or not matter.overrides:
            return _NO_PROVINCES
        return matter.overrides.get(mode, _NO_PROVINCES)

    def matter_name(self, matter_code: str) -> str:
        """The Chinese name analysts read, or the code itself when the matter is unknown."""
        matter = self.matters.get(matter_code)
        return matter.name if matter is not None else matter_code


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog file; without a path, the one shipped in haochaping/data."""
    if path is None:
        source = resources.files("haochaping").joinpath("data", "catalog.toml")
        label = "catalog.toml"
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as error:
            raise CatalogError(f"{label}: cannot read the packaged catalog: {error}") from error
    else:
        label = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise CatalogError(f"{label}: cannot read {path}: {error}") from error
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{label}: not valid TOML: {error}") from error
    return _Parser(label).catalog(document)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The packaged catalog, parsed once per process."""
    return load_catalog()


class _Parser:
    """Turns the TOML document into a Catalog, naming the place of the first problem found."""

    def __init__(self, label: str) -> None:
        self._label = label

    def _error(self, where: str, problem: str) -> CatalogError:
        return CatalogError(f"{self._label}: {where}: {problem}" if where else f"{self._label}: {problem}")

    def catalog(self, document: dict[str, object]) -> Catalog:
        unknown = sorted(set(document) - _TOP_KEYS)
        if unknown:
            raise self._error("", f"unknown top-level key {unknown[0]!r} (expected 'matters' and 'generic')")
        raw_matters = document.get("matters")
        if not isinstance(raw_matters, list) or not raw_matters:
            raise self._error("", "'matters' must be a non-empty array of tables ([[matters]])")
        matters: dict[str, Matter] = {}
        for index, raw in enumerate(raw_matters, start=1):
            matter = self._matter(raw, index)
            if matter.code in matters:
                raise self._error(f"matter {matter.code}", "duplicate matter code")
            matters[matter.code] = matter
        generic = self._generic(document.get("generic"))
        return Catalog(matters=MappingProxyType(matters), generic=generic)

    def _matter(self, raw: object, index: int) -> Matter:
        where = f"matter #{index}"
        if not isinstance(raw, dict):
            raise self._error(where, "must be a table")
        code = raw.get("code")
        if not isinstance(code, str):
            raise self._error(where, "field 'code' is missing or not a string")
        if not _CODE_PATTERN.match(code):
            raise self._error(
                f"matter {code!r}", "field 'code' must be 1-64 characters of A-Z a-z 0-9 . _ : -"
            )
        where = f"matter {code}"
        unknown = sorted(set(raw) - _MATTER_KEYS)
        if unknown:
            raise self._error(where, f"unknown field {unknown[0]!r}")
        name = self._text(raw, "name", where)
        department = self._text(raw, "department", where)
        modes = self._modes(raw.get("modes"), where)
        raw_processes = raw.get("processes")
        if not isinstance(raw_processes, dict):
            raise self._error(where, "field 'processes' is missing or not a table")
        processes: dict[Mode, Process] = {}
        for mode in modes:
            if mode.value not in raw_processes:
                raise self._error(where, f"mode {mode.value} is listed in 'modes' but has no process")
            processes[mode] = self._process(raw_processes[mode.value], mode, f"{where} mode {mode.value}")
        extra = sorted(key for key in raw_processes if key not in {mode.value for mode in modes})
        if extra:
            raise self._error(where, f"processes.{extra[0]} is not listed in 'modes'")
        overrides = self._overrides(raw.get("overrides"), code, processes)
        return Matter(
            code=code,
            name=name,
            department=department,
            processes=MappingProxyType(processes),
            overrides=overrides,
        )

    def _text(self, raw: dict[str, object], field: str, where: str) -> str:
        value = raw.get(field)
        if not isinstance(value, str) or not value.strip():
            raise self._error(where, f"field {field!r} is missing or empty")
        return value

    def _modes(self, raw: object, where: str) -> list[Mode]:
        if not isinstance(raw, list) or not raw:
            raise self._error(where, "field 'modes' must be a non-empty array of modes")
        modes: list[Mode] = []
        for value in raw:
            mode = self._enum(Mode, value, where, "mode")
            if mode in modes:
                raise self._error(where, f"mode {mode.value} listed twice in 'modes'")
            modes.append(mode)
        return modes

    def _process(self, raw: object, mode: Mode, where: str) -> Process:
        if not isinstance(raw, list) or not raw:
            raise self._error(where, "process must be a non-empty array of steps")
        specs: list[StepSpec] = []
        for number, raw_step in enumerate(raw, start=1):
            spec = self._step(raw_step, f"{where} step {number}")
            if any(existing.step == spec.step for existing in specs):
                raise self._error(f"{where} step {number}", f"duplicate step {spec.step.value}")
            specs.append(spec)
        return Process(mode=mode, steps=tuple(specs))

    def _step(self, raw: object, where: str) -> StepSpec:
        if not isinstance(raw, dict):
            raise self._error(where, "must be a table {step, role, limit_days}")
        unknown = sorted(set(raw) - _STEP_KEYS)
        if unknown:
            raise self._error(where, f"unknown field {unknown[0]!r}")
        step = self._enum(StepKind, raw.get("step"), where, "step kind")
        role = self._enum(Role, raw.get("role"), where, "role")
        return StepSpec(step=step, role=role, limit_days=self._limit(raw.get("limit_days"), where))

    def _limit(self, limit: object, where: str) -> int:
        # bool is an int subclass in Python; `limit_days = true` is a typo, not a limit.
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise self._error(where, f"limit_days must be a whole number of working days (got {limit!r})")
        if limit <= 0:
            raise self._error(where, f"limit_days must be at least 1 working day (got {limit})")
        return limit

    # -- province overrides ([[matters.overrides]]) ---------------------------------------------

    def _overrides(
        self, raw: object, code: str, processes: Mapping[Mode, Process]
    ) -> Mapping[Mode, Mapping[str, Process]]:
        if raw is None:
            return _NO_OVERRIDES
        if not isinstance(raw, list) or not raw:
            raise self._error(
                f"matter {code}", "field 'overrides' must be a non-empty array of tables ([[matters.overrides]])"
            )
        found: dict[Mode, dict[str, tuple[int, Process]]] = {}
        for index, item in enumerate(raw, start=1):
            province, process = self._override(item, code, index, processes)
            by_province = found.setdefault(process.mode, {})
            earlier = by_province.get(province)
            if earlier is not None:
                raise self._error(
                    f"matter {code} override province {province} mode {process.mode.value}",
                    f"duplicate override (override #{earlier[0]} is for the same province and mode)",
                )
            by_province[province] = (index, process)
        return MappingProxyType(
            {
                mode: MappingProxyType({province: process for province, (_, process) in by_province.items()})
                for mode, by_province in found.items()
            }
        )

    def _override(self, raw: object, code: str, index: int, processes: Mapping[Mode, Process]) -> tuple[str, Process]:
        where = f"matter {code} override #{index}"
        if not isinstance(raw, dict):
            raise self._error(where, "must be a table {province, mode, and steps or process}")
        unknown = sorted(set(raw) - _OVERRIDE_KEYS)
        if unknown:
            raise self._error(where, f"unknown field {unknown[0]!r} (expected province, mode, steps or process)")
        province = self._province(raw.get("province"), where)
        where = f"matter {code} override province {province}"
        mode = self._enum(Mode, raw.get("mode"), where, "mode")
        national = processes.get(mode)
        if national is None:
            offered = ", ".join(m.value for m in processes)
            raise self._error(where, f"mode {mode.value} is not offered by the matter (its modes: {offered})")
        where = f"{where} mode {mode.value}"
        if ("steps" in raw) == ("process" in raw):
            raise self._error(
                where, "give either 'steps' (changes to some steps) or 'process' (the whole process), not both"
            )
        if "steps" in raw:
            steps = self._changes(raw["steps"], national, where)
        else:
            steps = self._process(raw["process"], mode, where).steps
            if steps == national.steps:
                raise self._error(where, "changes nothing: 'process' is the same as the national process")
        return province, Process(mode=mode, steps=steps, province=province)

    def _province(self, value: object, where: str) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            raise self._error(where, f"field 'province' must be a quoted string: province = \"{value}\"")
        if not isinstance(value, str):
            raise self._error(where, f"field 'province' is missing or not a string (got {value!r})")
        if value in PROVINCES:
            return value
        if _SIX_DIGITS.match(value) and f"{value[:2]}0000" in PROVINCES:
            parent = f"{value[:2]}0000"
            raise self._error(
                where,
                f"field 'province' {value!r} is a city or county code; overrides are per province: "
                f"use {parent!r} ({PROVINCES[parent]})",
            )
        raise self._error(
            where,
            f"unknown province {value!r} in field 'province': give a province-level GB/T 2260 code, "
            "six digits ending in 0000 (110000 北京 … 820000 澳门; the 34 are PROVINCES in haochaping/codes.py)",
        )

    def _changes(self, raw: object, national: Process, where: str) -> tuple[StepSpec, ...]:
        """The national steps with the listed ones changed; each change must change something."""
        if not isinstance(raw, list) or not raw:
            raise self._error(where, "field 'steps' must be a non-empty array of {step, limit_days and/or role}")
        changed: dict[StepKind, StepSpec] = {}
        for number, item in enumerate(raw, start=1):
            at = f"{where} step {number}"
            if not isinstance(item, dict):
                raise self._error(at, "must be a table {step, limit_days and/or role}")
            unknown = sorted(set(item) - _STEP_KEYS)
            if unknown:
                raise self._error(at, f"unknown field {unknown[0]!r}")
            step = self._enum(StepKind, item.get("step"), at, "step kind")
            base = national.spec_for(step)
            if base is None:
                raise self._error(
                    at,
                    f"step {step.value} is not in the national {national.mode.value} process; "
                    "to add or drop steps give the whole 'process' instead of 'steps'",
                )
            if step in changed:
                raise self._error(at, f"duplicate step {step.value}")
            if "limit_days" not in item and "role" not in item:
                raise self._error(at, f"step {step.value} changes nothing: give limit_days, role or both")
            role, limit = base.role, base.limit_days
            if "role" in item:
                role = self._enum(Role, item["role"], at, "role")
                if role == base.role:
                    raise self._error(
                        at,
                        f"step {step.value} role {role.value} is the national value already; "
                        "list only what the province changes",
                    )
            if "limit_days" in item:
                limit = self._limit(item["limit_days"], at)
                if limit == base.limit_days:
                    raise self._error(
                        at,
                        f"step {step.value} limit_days {limit} is the national value already; "
                        "list only what the province changes",
                    )
            changed[step] = StepSpec(step=step, role=role, limit_days=limit)
        return tuple(changed.get(spec.step, spec) for spec in national.steps)

    def _generic(self, raw: object) -> Mapping[Mode, Process]:
        if not isinstance(raw, dict):
            raise self._error("generic", "missing [generic] table with a process per mode")
        for key in raw:
            if key not in {mode.value for mode in Mode}:
                raise self._error("generic", f"unknown mode {key!r}")
        generic: dict[Mode, Process] = {}
        for mode in Mode:
            if mode.value not in raw:
                raise self._error("generic", f"missing generic process for mode {mode.value}")
            generic[mode] = self._process(raw[mode.value], mode, f"generic mode {mode.value}")
        return MappingProxyType(generic)

    def _enum(self, kind: type[_E], value: object, where: str, what: str) -> _E:
        if not isinstance(value, str):
            raise self._error(where, f"{what} is missing or not a string (got {value!r})")
        try:
            return kind(value)
        except ValueError:
            raise self._error(where, f"unknown {what} {value!r}") from None
