"""Starts and stops the test-only ClickHouse HTTP front (clickhouse_http.py) as its own process.

Tests that need a ClickHouse *server* (several workers sharing one, or a server whose port
closes under a running worker) point HCP_CLICKHOUSE_URL at it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.integration.conftest import ROOT
from tests.integration.test_reliability_support import wait_for


class ClickHouseEndpoint:
    def __init__(self, directory: Path, port: int, log_path: Path) -> None:
        self.directory = directory
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/default"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.clickhouse_http", str(self.directory), str(self.port)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = self._process
        wait_for(lambda: self.answers() or process.poll() is not None, timeout=60, what="the ClickHouse endpoint")
        assert process.poll() is None, self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False
