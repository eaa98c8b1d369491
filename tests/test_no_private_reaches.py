"""The adapters use other libraries only through their public interfaces: no `obj._name`, no getattr of one.

Faust, aiokafka and kafka-python change their internals between releases; a reach into them fails
silently (a getattr default turns a check off) or breaks on upgrade. `self._x` and `cls._x` are the
adapters' own members and allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = ("streams", "sinks", "producers", "cli")
REFLECTION = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def private_reaches(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        name = None
        if isinstance(node, ast.Attribute) and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in REFLECTION
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        if name is not None and name.startswith("_") and not name.startswith("__"):
            found.append((node.lineno, name))
    return found


def test_the_checker_finds_each_kind_of_reach() -> None:
    source = "consumer._acked\ngetattr(app, '_gap', {})\nsetattr(c, '_getmany', f)\nself._mine\ncls._too\nx.__class__\n"
    assert private_reaches(source) == [(1, "_acked"), (2, "_gap"), (3, "_getmany")]


def test_no_adapter_reaches_into_private_members() -> None:
    reaches = [
        f"{path.relative_to(ROOT)}:{line} {name}"
        for package in ADAPTERS
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in private_reaches(path.read_text(encoding="utf-8"))
    ]
    assert reaches == []
