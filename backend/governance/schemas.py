from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Stage = Literal["registered", "candidate", "approved", "production", "retired", "rejected"]
Op = Literal[">=", ">", "<=", "<"]
Person = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=5000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricCondition(Strict):
    """The latest completed run of a monitor (by name, on the version evaluated) must
    hold ``metric`` ``op`` ``threshold``. A metric with one figure per attribute,
    class or column (demographic_parity_ratio, score) must hold for every one."""

    kind: Literal["metric"] = "metric"
    name: str | None = Field(default=None, max_length=200)
    monitor: Annotated[str, Field(min_length=1, max_length=200)]
    metric: Annotated[str, Field(min_length=1, max_length=200)]
    op: Op
    threshold: float | Literal["declared"] = Field(
        description="A number, or 'declared': the level the version declares for the metric."
    )
    max_age_hours: float = Field(
        default=48, gt=0, le=24 * 365, description="An older run is stale: the condition fails."
    )


class AlertCondition(Strict):
    """No unresolved alert of at least ``severity`` on the version."""

    kind: Literal["no_open_alerts"]
    name: str | None = Field(default=None, max_length=200)
    severity: Literal["info", "warning", "critical"] = "critical"


def _condition_kind(value: Any) -> str:
    kind = value.get("kind", "metric") if isinstance(value, dict) else getattr(value, "kind", None)
    return str(kind or "metric")


# A condition without "kind" is a metric condition.
Condition = Annotated[
    Annotated[MetricCondition, Tag("metric")] | Annotated[AlertCondition, Tag("no_open_alerts")],
    Discriminator(_condition_kind),
]


class PolicyWrite(Strict):
    conditions: list[Condition] = Field(min_length=1, max_length=100)
    approval_max_age_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 90,
        description="An approval needs a passing evaluation this fresh.",
    )


class PolicyRead(BaseModel):
    model: str
    revision: int
    conditions: list[Condition]
    approval_max_age_hours: int
    created_by: str
    created_at: datetime


class ConditionResult(BaseModel):
    condition: str
    observed: float | None
    threshold: float | None
    passed: bool
    run_id: int | None
    why: str


class EvaluationRead(BaseModel):
    """Argo Rollouts' web metric provider reads ``passed`` with ``jsonPath: "{$.passed}"``."""

    id: int
    model: str
    version: str
    policy_revision: int
    passed: bool
    conditions: list[ConditionResult]
    evaluated_by: str
    evaluated_at: datetime


class Rollout(Strict):
    mode: Literal["replace", "canary"] = "replace"
    traffic_share: float | None = Field(
        default=None, gt=0, lt=1, description="Canary only: the new version's share of traffic."
    )

    @model_validator(mode="after")
    def _share_for_canary(self) -> Rollout:
        if (self.mode == "canary") != (self.traffic_share is not None):
            raise ValueError("a canary takes a traffic_share; replace takes none")
        return self


class TransitionWrite(Strict):
    to: Stage
    person: Person = Field(description="The person acting, recorded for the two-person rule.")
    reason: Reason
    rollout: Rollout | None = Field(default=None, description="Promotion to production only.")


class RollbackWrite(Strict):
    person: Person
    reason: Reason


class TransitionRead(BaseModel):
    id: int
    version: str
    from_stage: str
    to_stage: str
    actor: str
    person: str
    reason: str
    rollout_mode: str | None
    traffic_share: float | None
    gate_evaluation_id: int | None
    rollback: bool
    created_at: datetime


class VersionState(BaseModel):
    version: str
    stage: Stage
    traffic_share: float | None
    role: Literal["champion", "challenger"] | None


class Lifecycle(BaseModel):
    model: str
    versions: list[VersionState]
    transitions: list[TransitionRead]


RiskTier = Literal["prohibited", "high", "limited", "minimal"]
Text = Annotated[str, Field(max_length=20_000)]


class CardContent(Strict):
    """What a model card says (the monitoring plan is generated, not written)."""

    intended_use: Text
    intended_users: Text = ""
    out_of_scope_uses: Text = ""
    training_data: Text = Field(default="", description="A summary of the training data.")
    known_limitations: Text = ""
    risk_tier: RiskTier = Field(description="The EU AI Act risk class.")
    risk_rationale: Text
    owners: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=50
    )


class CardDecision(Strict):
    person: Person
    comment: Annotated[str, Field(max_length=5000)] = ""


class PlanMonitor(BaseModel):
    name: str
    kind: str
    window: str
    schedule: str
    severity: str
    alert_on: str
    thresholds: dict[str, object]
    segments: list[str] | None
    enabled: bool


class MonitoringPlan(BaseModel):
    """Art. 72's post-market monitoring plan, from the version's monitors, schedules,
    thresholds, declared metrics and gate policy, as they are now."""

    monitors: list[PlanMonitor]
    declared_metrics: dict[str, float]
    gate_policy_revision: int | None
    gate_conditions: list[str]
    approval_max_age_hours: int | None


class CardRead(BaseModel):
    model: str
    version: str
    revision: int
    state: Literal["draft", "in_review", "approved"]
    content: CardContent
    monitoring_plan: MonitoringPlan
    created_by: str
    created_at: datetime
    submitted_by: str | None
    submitted_person: str | None
    approved_by: str | None
    approved_person: str | None
    approved_at: datetime | None
    markdown: str
