"""`hcp demo`: the main job end to end on the embedded default, then what arrived.

Starts a worker process, runs the simulator against Kafka for about a minute,
waits until the worker has committed everything, stops it and prints the summary.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

from cli import Subcommands
from haochaping.settings import Settings, redact_url

DRAIN_TIMEOUT_SECONDS = 180.0


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "demo",
        help="run worker + simulator for about a minute and print what arrived in ClickHouse",
        description="Needs a Kafka broker (make demo starts one). Uses fresh topics and a fresh embedded "
        "ClickHouse under DATA_DIR/demo, so earlier runs do not mix in.",
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of simulated traffic (default 60)")
    parser.add_argument("--rate", type=float, default=500.0, help="events per second (default 500)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from cli.summary import render_summary
    from producers.lag import consumer_lag

    stamp = time.strftime("%Y%m%d%H%M%S")
    demo_dir = settings.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_dir.mkdir(parents=True)
    demo = settings.with_changes(
        data_dir=demo_dir,
        clickhouse_url="" if settings.embedded_clickhouse else settings.clickhouse_url,
        topic_prefix=f"demo-{stamp}.",
        consumer_group=f"hcp-demo-{stamp}",
        web_port=_free_port(),
    )
    env = {**os.environ, **demo.to_env()}
    _say(f"starting the worker (topics {demo.topic_prefix}*, ClickHouse {redact_url(demo.clickhouse)})")
    log_path = demo_dir / "worker.log"
    with open(log_path, "wb") as worker_log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker"], env=env, stdout=worker_log, stderr=subprocess.STDOUT
        )
        try:
            _say(f"simulating {args.duration:.0f} s of traffic at {args.rate:.0f} events/s")
            simulate = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cli.main",
                    "simulate",
                    "--seed",
                    str(args.seed),
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(args.duration),
                    "--malformed-every",
                    "400",
                    # Few new cases per simulated hour, so that within a minute many cases finish and are rated.
                    "--cases-per-hour",
                    "10",
                ],
                env=env,
                check=False,
            )
            if simulate.returncode != 0:
                _say("the simulator failed")
                return 1
            _say("waiting for the worker to store everything")
            deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
            lag = consumer_lag(demo)
            while lag > 0:
                if worker.poll() is not None:
                    _say(f"the worker stopped unexpectedly; see {log_path}")
                    return 1
                if time.monotonic() > deadline:
                    _say(f"the worker still has {lag} messages to store after {DRAIN_TIMEOUT_SECONDS:.0f} s")
                    return 1
                time.sleep(1.0)
                lag = consumer_lag(demo)
        finally:
            _stop(worker)
    _say(f"worker stopped (log: {log_path})")
    print(render_summary(demo))
    return 0


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)
