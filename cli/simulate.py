"""`hcp simulate`: realistic rating and case traffic, written to JSONL or published to Kafka.

The generator is the pure haochaping.simulation; this module paces it in wall-clock
time, writes or publishes, and shows progress.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime
from typing import IO, Any

from cli import Subcommands
from haochaping.decoding import Rejection
from haochaping.settings import Settings

PROGRESS_EVERY_SECONDS = 5.0


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "simulate",
        help="generate realistic traffic (cases and ratings), to a file or to Kafka",
        description="Generate full case timelines (case events) and ratings for the catalog's matters across "
        "several provinces, about 8-15%% negative with Chinese comments about the step that went wrong. "
        "Without --out the events are published to Kafka.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  hcp simulate --count 10000 --out sample.jsonl\n"
        "  hcp simulate --rate 1000 --duration 60\n"
        "  hcp simulate --rate 2000 --duration 600 \\\n"
        "      --incident province=340000,step=TRANSFER,start=2026-11-20T09:00:00+08:00,factor=3",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same events")
    parser.add_argument("--rate", type=float, default=0.0, help="events per second (default: as fast as possible)")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--count", type=int, help="stop after this many events")
    stop.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--out", help="write JSONL here (- for stdout) instead of publishing to Kafka")
    parser.add_argument("--start", help="simulated time of the first case (RFC 3339, with offset)")
    parser.add_argument("--cases-per-hour", type=float, help="new cases per simulated hour")
    parser.add_argument("--provinces", help="comma-separated province codes (default: a dozen provinces)")
    parser.add_argument(
        "--incident",
        action="append",
        default=[],
        metavar="SPEC",
        help="degrade one province's step from a simulated time: "
        "province=P,step=S,start=T,factor=F[,end=T][,matter=M][,reason=R] (repeatable)",
    )
    parser.add_argument(
        "--malformed-every",
        type=int,
        default=0,
        metavar="N",
        help="also send one corrupted message every N events (Kafka only; shows the dead-letter path)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from haochaping.catalog import default_catalog
    from haochaping.simulation import SimulationConfig, Simulator, parse_incident

    if args.count is None and args.duration is None:
        print("hcp simulate: give --count or --duration", file=sys.stderr)
        return 2
    options: dict[str, Any] = {"seed": args.seed}
    try:
        if args.incident:
            options["incidents"] = tuple(parse_incident(spec) for spec in args.incident)
        if args.start:
            options["start"] = datetime.fromisoformat(args.start)
            if options["start"].tzinfo is None:
                raise ValueError(f"--start {args.start!r} needs a UTC offset, e.g. +08:00")
    except ValueError as error:
        print(f"hcp simulate: {error}", file=sys.stderr)
        return 2
    if args.cases_per_hour:
        options["cases_per_hour"] = args.cases_per_hour
    if args.provinces:
        options["provinces"] = tuple(code.strip() for code in args.provinces.split(",") if code.strip())
    simulator = Simulator(default_catalog(), SimulationConfig(**options))
    sink = _FileSink(args.out) if args.out else _KafkaSink(settings, args.malformed_every, args.seed)
    counts = {"rating": 0, "case": 0}
    started = last_report = time.monotonic()
    sent = 0
    try:
        for event in simulator.events():
            if args.count is not None and sent >= args.count:
                break
            now = time.monotonic()
            if args.duration is not None and now - started >= args.duration:
                break
            if args.rate > 0:
                ahead = sent / args.rate - (now - started)
                if ahead > 0:
                    time.sleep(ahead)
            sink.write(event.kind, event.payload)
            counts[event.kind] += 1
            sent += 1
            if now - last_report >= PROGRESS_EVERY_SECONDS:
                last_report = now
                _progress(sent, counts, now - started)
    finally:
        sink.close()
    _progress(sent, counts, time.monotonic() - started, final=True)
    if isinstance(sink, _KafkaSink) and sink.malformed:
        print(f"simulate: also sent {sink.malformed} corrupted messages", file=sys.stderr)
    return 0


def _progress(sent: int, counts: dict[str, int], elapsed: float, final: bool = False) -> None:
    rate = sent / elapsed if elapsed > 0 else 0.0
    prefix = "simulate: done," if final else "simulate:"
    print(
        f"{prefix} {sent:,} events ({counts['case']:,} case events, {counts['rating']:,} ratings) "
        f"in {elapsed:.1f} s, {rate:,.0f}/s",
        file=sys.stderr,
    )


class _FileSink:
    def __init__(self, path: str) -> None:
        self._stream: IO[str] = sys.stdout if path == "-" else open(path, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, kind: str, payload: dict[str, object]) -> None:
        self._stream.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._stream is not sys.stdout:
            self._stream.close()
        else:
            self._stream.flush()


class _KafkaSink:
    def __init__(self, settings: Settings, malformed_every: int, seed: int) -> None:
        from producers.publisher import Publisher
        from producers.topics import ensure_topics

        ensure_topics(settings)
        self._publisher = Publisher(settings, client_id="hcp-simulator")
        self._topics = {"rating": settings.topics["ratings"], "case": settings.topics["cases"]}
        self._malformed_every = malformed_every
        self._random = random.Random(seed)
        self._written = 0
        self.malformed = 0

    def write(self, kind: str, payload: dict[str, object]) -> None:
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        result = self._publisher.publish(raw)
        if isinstance(result, Rejection):
            raise RuntimeError(f"the simulator produced an invalid event: {result}")
        self._written += 1
        if self._malformed_every and self._written % self._malformed_every == 0:
            self._publisher.send_unchecked(self._topics[kind], None, _corrupt(raw, self._random))
            self.malformed += 1

    def close(self) -> None:
        self._publisher.close()


def _corrupt(raw: bytes, rng: random.Random) -> bytes:
    """Damage a valid message the way real portals do: truncation, a bad code, an unknown field."""
    choice = rng.randrange(3)
    if choice == 0:
        return raw[: len(raw) // 2]
    payload = json.loads(raw)
    if choice == 1:
        target = payload.get("org", payload)  # case events carry it on the org
        target["province"] = "999999"
    else:
        payload["portal_version"] = "2.3"
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
