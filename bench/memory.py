"""Memory of the case-timeline table at scale: N encoded CaseTimeline states in a dict.

    python -m bench.memory --cases 1000000

The Faust memory store (`store="memory://"`) keeps the table as a dict of key bytes → value
bytes; this builds that dict with N distinct cases and reports the process's peak RSS
(ru_maxrss) before and after. It is the table's payload in one process, not a whole worker
(no Kafka client buffers, no changelog producer, no chDB).

Timelines are taken from the benchmark's simulated stream (a mix of finished and in-flight
cases as a backlog cut leaves them) and cloned under fresh case ids of the same length.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--sample-events", type=int, default=50_000)
    args = parser.parse_args()

    from bench.workload import simulated
    from haochaping.decoding import decode_event
    from haochaping.events import CaseEvent
    from haochaping.timeline import CaseTimeline

    templates: dict[str, CaseTimeline] = {}
    for record in simulated(args.sample_events):
        if record.kind != "case":
            continue
        event = decode_event(record.value)
        assert isinstance(event, CaseEvent)
        timeline = templates.get(event.case_id)
        if timeline is None:
            timeline = templates[event.case_id] = CaseTimeline(event.case_id, event.matter_code, event.mode)
        timeline.add(event)
    samples = list(templates.values())
    baseline = rss_mb()

    table: dict[bytes, bytes] = {}
    payload = 0
    for index in range(args.cases):
        template = samples[index % len(samples)]
        clone = CaseTimeline(f"C0-{index:08d}", template.matter_code, template.mode)
        clone._entries = template._entries  # same events under a new id: the encoding's size is what matters
        encoded = clone.encode()
        key = clone.case_id.encode()
        table[key] = encoded
        payload += len(key) + len(encoded)
    peak = rss_mb()
    events = sum(len(sample) for sample in samples) / len(samples)
    print(
        json.dumps(
            {
                "cases": len(table),
                "events_per_case": events,
                "payload_mb": payload / 2**20,
                "bytes_per_case": payload / len(table),
                "baseline_rss_mb": baseline,
                "peak_rss_mb": peak,
                "table_rss_mb": peak - baseline,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
