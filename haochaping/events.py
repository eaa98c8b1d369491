"""Wire contracts, version 1: RatingEvent and CaseEvent (DESIGN.md section 3).

Strict pydantic models: unknown fields, bad codes, over-long text and timestamps
without an offset are rejected. Decoding bytes into events lives in decoding.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from haochaping.codes import PROVINCES, Action, Channel, Mode, Reason, Role, StepKind

RATING_SCHEMA = "hcp.rating/1"
CASE_SCHEMA = "hcp.case/1"

MAX_COMMENT_CHARS = 2000
MAX_NOTE_CHARS = 500
# The 好差评 system began in 2019 (国办发〔2019〕51号); earlier timestamps are clock errors.
EARLIEST_EVENT_TIME = datetime(2019, 1, 1, tzinfo=UTC)
# Far-future times are clock errors too; they would also move event-time watermarks past all data.
LATEST_EVENT_TIME = datetime(2100, 1, 1, tzinfo=UTC)

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


def _known_province(code: str) -> str:
    if code not in PROVINCES:
        raise ValueError(f"unknown province code {code!r} (expected a GB/T 2260 province, e.g. 310000)")
    return code


def _not_before_system_start(moment: datetime) -> datetime:
    # Comparing aware datetimes costs two utcoffset() calls each; a year well inside the range
    # (no offset reaches a day) settles nearly every event without them.
    if EARLIEST_EVENT_TIME.year < moment.year < LATEST_EVENT_TIME.year - 1:
        return moment
    if moment < EARLIEST_EVENT_TIME:
        raise ValueError(f"timestamp {moment.isoformat()} is before 2019-01-01, when 好差评 began")
    if moment >= LATEST_EVENT_TIME:
        raise ValueError(f"timestamp {moment.isoformat()} is in 2100 or later (UTC): a clock error")
    return moment


ProvinceCode = Annotated[str, AfterValidator(_known_province)]
EventTime = Annotated[AwareDatetime, AfterValidator(_not_before_system_start)]


class _Contract(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        populate_by_name=True,
        str_strip_whitespace=False,
    )


class Rater(_Contract):
    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    real_name: StrictBool


class RatingEvent(_Contract):
    """One rating, published by a portal."""

    schema_: Literal["hcp.rating/1"] = Field(alias="schema")
    rating_id: Identifier
    case_id: Identifier | None
    matter_code: Identifier
    province: ProvinceCode
    channel: Channel
    level: Annotated[StrictInt, Field(ge=1, le=5)]
    tags: Annotated[list[Reason], Field(max_length=len(Reason))]
    comment: Annotated[str, StringConstraints(max_length=MAX_COMMENT_CHARS)] | None
    step: StepKind | None
    rated_at: EventTime
    rater: Rater | None

    @property
    def negative(self) -> bool:
        return self.level <= 2

    @property
    def partition_key(self) -> str:
        """Ratings travel with their case so the timeline join stays local."""
        return self.case_id if self.case_id is not None else self.rating_id


class Organisation(_Contract):
    code: Identifier
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    province: ProvinceCode
    role: Role


class CaseEvent(_Contract):
    """One step of a case's process (办件过程), published by an office system."""

    schema_: Literal["hcp.case/1"] = Field(alias="schema")
    event_id: Identifier
    case_id: Identifier
    matter_code: Identifier
    mode: Mode
    step: StepKind
    action: Action
    org: Organisation
    at: EventTime
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS)] | None = None

    @property
    def partition_key(self) -> str:
        return self.case_id


Event = RatingEvent | CaseEvent
