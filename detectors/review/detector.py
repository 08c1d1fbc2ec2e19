"""How often reviewers override the model: the decisions of a window (``decision``:
agree or override, ``segment``), overall and per segment, against a bound. The
share of overrides is the model's error rate as humans see it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from detectors.base import BaseDetector, Params, Result, Status, Window


class ReviewParams(Params):
    max_override_rate: float = Field(default=0.2, gt=0, le=1)
    min_decisions: int = Field(default=20, ge=1)


class SegmentRate(BaseModel):
    model_config = ConfigDict(frozen=True)

    segment: str
    decisions: int
    overrides: int
    override_rate: float
    alert: bool


class ReviewResult(Result):
    decisions: int
    overrides: int
    override_rate: float | None
    segments: list[SegmentRate]
    alert_reasons: list[str]


class ReviewDetector(BaseDetector[ReviewParams]):
    kind: ClassVar[str] = "review"
    version: ClassVar[str] = "1"
    params_model: ClassVar[type[ReviewParams]] = ReviewParams

    def run(self, reference: Window, current: Window) -> ReviewResult:
        p = self.params
        frame = current.frame
        if "decision" not in frame or not len(frame):
            return ReviewResult(kind=self.kind, version=self.version,
                                status=Status.INSUFFICIENT_DATA, decisions=0, overrides=0,
                                override_rate=None, segments=[], alert_reasons=[])  # fmt: skip
        overridden = (frame["decision"] == "override").to_numpy()
        n, k = len(frame), int(overridden.sum())
        reasons = []
        if n >= p.min_decisions and k / n > p.max_override_rate:
            reasons.append(f"reviewers overrode {k} of {n} decisions ({k / n:.0%}; "
                           f"bound {p.max_override_rate:.0%})")  # fmt: skip
        segments = []
        if "segment" in frame:
            groups = frame.assign(o=overridden).groupby("segment", sort=True)["o"]
            for segment, values in groups:
                if not str(segment):
                    continue
                count, over = len(values), int(values.sum())
                alert = count >= p.min_decisions and over / count > p.max_override_rate
                segments.append(SegmentRate(segment=str(segment), decisions=count,
                                            overrides=over, override_rate=over / count,
                                            alert=alert))  # fmt: skip
                if alert:
                    reasons.append(f"[{segment}] reviewers overrode {over} of {count} "
                                   f"({over / count:.0%})")  # fmt: skip
        status = Status.ALERT if reasons else (
            Status.OK if n >= p.min_decisions else Status.INSUFFICIENT_DATA)  # fmt: skip
        return ReviewResult(kind=self.kind, version=self.version, status=status, decisions=n,
                            overrides=k, override_rate=k / n, segments=segments,
                            alert_reasons=reasons)  # fmt: skip
