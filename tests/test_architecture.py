"""The core package stays pure: importing it pulls in none of faust, kafka or clickhouse_connect."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import haochaping


def test_core_imports_no_adapters() -> None:
    modules = [info.name for info in pkgutil.walk_packages(haochaping.__path__, "haochaping.")]
    assert "haochaping.events" in modules
    program = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('faust', 'kafka', 'clickhouse_connect', 'aiokafka', 'chdb'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
