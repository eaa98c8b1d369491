"""Nothing personal reaches the worker's log, ClickHouse or the dead-letter reasons.

The real `hcp worker` consumes valid and malformed messages that carry a phone number, an
ID-card number, an e-mail address and a raw rater id; afterwards the log is searched for them.
"""

from __future__ import annotations

from pathlib import Path

from haochaping.settings import Settings
from producers.publisher import Publisher
from producers.topics import ensure_topics
from sinks.clickhouse import open_clickhouse
from tests.integration.conftest import WorkerProcess
from tests.wire import case_event, encode, rating

PHONE = "13987654321"
ID_CARD = "110105198807154321"
EMAIL = "li.si@example.org"
RATER = "rater-secret-7788"
PERSONAL = (PHONE, ID_CARD, EMAIL, RATER)
COMMENT = f"等了一个月，电话{PHONE}，身份证{ID_CARD}，邮箱{EMAIL}"


def _run(settings: Settings, worker_factory: type[WorkerProcess], log: Path, messages: list[tuple[str, bytes]]) -> str:
    ensure_topics(settings)
    with Publisher(settings) as publisher:
        for role, raw in messages:
            publisher.send_unchecked(settings.topics[role], b"C-0001", raw)
    worker = worker_factory(settings, log)
    worker.start()
    worker.wait_until_drained()
    assert worker.stop() == 0
    return log.read_text(errors="replace")


def test_worker_log_and_tables_hold_no_personal_data(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    settings = pipeline_settings
    rater = {"id": RATER, "real_name": True}
    text = _run(
        settings,
        worker_factory,
        tmp_path / "worker.log",
        [
            ("cases", encode(case_event(note=f"联系人{PHONE}，{EMAIL}"))),
            ("ratings", encode(rating(rating_id="R-OK", comment=COMMENT, rater=rater))),
            # Malformed elsewhere than in the personal data: dead-lettered with a reason, logged.
            ("ratings", encode(rating(rating_id="R-BAD", province="999999", comment=COMMENT, rater=rater))),
            ("ratings", encode(rating(rating_id="R-CUT", comment=COMMENT, rater=rater))[:-30]),
            ("cases", encode(case_event(event_id="E-BAD", action="undo", note=f"身份证{ID_CARD}"))),
        ],
    )
    assert text.count("dead letter from") == 3, text[-3000:]
    assert [secret for secret in PERSONAL if secret in text] == []

    with open_clickhouse(settings.clickhouse, owner="reliability test") as client:
        tables = {
            table: repr(client.query(f"SELECT * FROM {table}").result_rows)
            for table in ("ratings", "case_events", "dead_letters", "attributions", "step_observations")
        }
    assert tables["ratings"].count("[手机号]") == 1 and "[身份证号]" in tables["ratings"]
    assert "[手机号]" in tables["case_events"]
    assert {table: [s for s in PERSONAL if s in dump] for table, dump in tables.items()} == {t: [] for t in tables}


def test_worker_log_holds_no_personal_data_from_the_offending_field(
    pipeline_settings: Settings, worker_factory: type[WorkerProcess], tmp_path: Path
) -> None:
    text = _run(
        pipeline_settings,
        worker_factory,
        tmp_path / "worker.log",
        [("ratings", encode(rating(comment=f"电话{PHONE}" + "慢" * 2000)))],
    )
    assert "dead letter from" in text
    assert PHONE not in text
