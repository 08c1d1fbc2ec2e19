from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.monitors.specs import cron_trigger, parse_duration
from detectors.registry import DETECTORS

Kind = Literal[
    "drift",
    "bias",
    "explain",
    "cost",
    "performance",
    "estimated_performance",
    "data_quality",
    "comparison",
    "review",
]
Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowSpec(Strict):
    """A trailing ``duration`` ending at each scheduled time, or a fixed
    ``start``–``end`` range (run once)."""

    duration: str | None = Field(default=None, examples=["1d"])
    lag: str | None = Field(
        default=None,
        examples=["7d"],
        description="Trailing windows only: each run checks the window that ended this long "
        "before its scheduled time (realized performance waits for late labels).",
    )
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    min_rows: int = Field(default=1, ge=1)
    max_rows: int | None = Field(
        default=None, ge=10, description="Deterministic sampling cap per window."
    )

    @field_validator("duration", "lag")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_form(self) -> WindowSpec:
        fixed = self.start is not None or self.end is not None
        if (self.duration is None) == (not fixed):
            raise ValueError("give either duration, or start and end")
        if fixed and (self.start is None or self.end is None or self.start >= self.end):
            raise ValueError("a fixed window needs start before end")
        if fixed and self.lag is not None:
            raise ValueError("only a trailing window has a lag")
        return self


class ReferenceSpec(Strict):
    """The baseline, pinned when the monitor is created and changed only by an
    audited update: a reference ``dataset`` of the version (by name or content hash;
    when omitted, the version's newest dataset at creation, pinned by its hash), a
    past ``window`` of logged traffic, or the version's ``first_week`` of traffic
    (the first seven full days after its first prediction, pinned to that window by
    the first run that finds them complete)."""

    kind: Literal["dataset", "window", "first_week"] = "dataset"
    dataset: str | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    sha256: str | None = Field(
        default=None, description="Read only: the pinned dataset's content hash."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ReferenceSpec:
        if self.kind == "window":
            if self.start is None or self.end is None or self.start >= self.end:
                raise ValueError("a window reference needs start before end")
            if self.dataset is not None:
                raise ValueError("a window reference takes no dataset")
        elif self.start is not None or self.end is not None:
            raise ValueError(f"a {self.kind} reference takes no start or end")
        if self.kind == "first_week" and self.dataset is not None:
            raise ValueError("a first_week reference takes no dataset")
        return self


class ScheduleSpec(Strict):
    every: str | None = Field(default=None, examples=["1h"])
    cron: str | None = Field(default=None, examples=["0 * * * *"])

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) < 60:
            raise ValueError("schedules run at most once a minute")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            cron_trigger(value)
        return value

    @model_validator(mode="after")
    def _one_form(self) -> ScheduleSpec:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give either every or cron")
        return self


MAX_SEGMENTS = 20


class SegmentSpec(Strict):
    by: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1,
        max_length=3,
        description="Categorical features whose value combinations are the segments.",
    )
    top_k: int = Field(
        default=10,
        ge=1,
        le=MAX_SEGMENTS,
        description=f"The largest segments by volume that get their own result (at most "
        f"{MAX_SEGMENTS}); every other row is one 'other' segment.",
    )


class MonitorCreate(Strict):
    name: Name
    kind: Kind
    params: dict[str, Any] = Field(
        default_factory=dict, description="The detector's params: see GET /v1/detectors."
    )
    window: WindowSpec
    reference: ReferenceSpec = Field(default_factory=ReferenceSpec)
    schedule: ScheduleSpec | None = Field(
        default=None,
        description="Required for a trailing window; a fixed start–end window runs once, "
        "when it has ended, and takes none.",
    )
    severity: Severity = "warning"
    alert_on: Literal["alert", "warning"] = Field(
        default="alert", description="The least run status that opens an alert."
    )
    enabled: bool = True
    segments: SegmentSpec | None = Field(
        default=None,
        description="Run per segment too: results per segment, and an alert names its segment.",
    )
    trip_on: Literal["critical"] | None = Field(
        default=None,
        description="'critical': an alert this (critical-severity) monitor opens trips the "
        "version, so model servers serve their fallback. Resolving the alert does not restore "
        "it: a person does.",
    )

    @model_validator(mode="after")
    def _schedule_for_trailing_windows(self) -> MonitorCreate:
        if self.window.duration is not None and self.schedule is None:
            raise ValueError("a trailing window needs a schedule: every or cron")
        return self


class MonitorUpdate(Strict):
    """Fields left out keep their value."""

    params: dict[str, Any] | None = None
    window: WindowSpec | None = None
    reference: ReferenceSpec | None = None
    schedule: ScheduleSpec | None = None
    severity: Severity | None = None
    alert_on: Literal["alert", "warning"] | None = None
    enabled: bool | None = None
    segments: SegmentSpec | None = None
    trip_on: Literal["critical"] | None = None


class MonitorRead(BaseModel):
    id: int
    model: str
    version: str
    name: str
    kind: Kind
    params: dict[str, Any]
    window: WindowSpec
    reference: ReferenceSpec
    schedule: ScheduleSpec | None
    severity: Severity
    alert_on: str
    enabled: bool
    segments: SegmentSpec | None = None
    trip_on: str | None = None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RunRequest(Strict):
    """The window's end; now when omitted."""

    end: AwareDatetime | None = None


class BackfillRequest(Strict):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> BackfillRequest:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


assert set(DETECTORS) == {
    "drift",
    "bias",
    "explain",
    "cost",
    "performance",
    "estimated_performance",
    "data_quality",
    "comparison",
    "review",
}, "Kind must list every detector"
