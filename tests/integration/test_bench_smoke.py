"""`make bench-smoke` in CI: the benchmark runs end to end at tiny sizes (its figures mean nothing).

It starts its own broker on free ports and its own embedded ClickHouse directories, so it does
not touch the test broker; a failure here means `make bench` is broken, not slow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_smoke_prints_its_table() -> None:
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout
    for row in (
        "raw consumer (aiokafka)",
        "trivial Faust agent",
        "hand-written peer",
        "pipeline (hcp worker)",
        "1 worker, ClickHouse over HTTP",
        "2 workers, ClickHouse over HTTP",
        "latency p50",
        "ratios",
        "pipeline ÷ trivial Faust agent",
        "2 workers ÷ 1 worker (ClickHouse over HTTP)",
    ):
        assert row in table, table
    assert "STALLED" not in table, table
    ratios = table.split("ratios (medians):", 1)[1].split("\n\n", 1)[0]
    assert " nan" not in ratios, table
