from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
FEATURE_NAME_PATTERN = r"^[^\x00-\x1f]{1,200}$"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
ClassLabel = str | int
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Task(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


DeclaredMetric = Literal[
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "f1_macro",
    "f1_weighted",
    "specificity",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "mae",
    "rmse",
    "mse",
    "mape",
    "r2",
]
REGRESSION_METRICS = frozenset({"mae", "rmse", "mse", "mape", "r2"})


class FeatureType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=FEATURE_NAME_PATTERN)]
    dtype: FeatureType
    sensitive: bool = False
    model_input: bool = Field(
        default=True,
        description="Whether the artifact takes this feature as an input column. Sensitive "
        "attributes are often logged for fairness checks without being model inputs.",
    )
    categories: list[str] | None = Field(
        default=None,
        max_length=10_000,
        description="Categorical only: the known categories, in order. A categorical model "
        "input is fed to the artifact as the index of its value in this list.",
    )
    range: tuple[float, float] | None = Field(
        default=None,
        description="Numeric only: the valid [low, high]; data quality checks values "
        "against it instead of the reference's range.",
    )

    @model_validator(mode="after")
    def _categories_for_categorical(self) -> FeatureSpec:
        if self.categories is not None:
            if self.dtype != FeatureType.CATEGORICAL:
                raise ValueError("only categorical features have categories")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError("categories must be distinct")
        if self.range is not None:
            if self.dtype != FeatureType.NUMERIC:
                raise ValueError("only numeric features have a range")
            if not self.range[0] <= self.range[1]:
                raise ValueError("range must be [low, high] with low <= high")
        if self.dtype == FeatureType.CATEGORICAL and self.model_input and self.categories is None:
            raise ValueError(
                "a categorical model input needs its categories (their order defines the "
                "encoding the artifact receives)"
            )
        return self


class CostProfile(BaseModel):
    """How a version's predictions cost money; any price left out is not charged."""

    model_config = ConfigDict(extra="forbid")

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    price_per_cpu_second: NonNegative | None = None
    price_per_gpu_second: NonNegative | None = None
    price_per_1k_predictions: NonNegative | None = None
    budget: NonNegative | None = None
    budget_period: Literal["day", "week", "month"] = "month"


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    task: Task
    description: str = Field(default="", max_length=5000)


class ModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    task: Task
    description: str
    created_at: datetime


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Name
    features: list[FeatureSpec] = Field(min_length=1, max_length=2000)
    class_labels: list[ClassLabel] | None = Field(
        default=None,
        description="Classification only. Binary defaults to [0, 1]; multiclass must list "
        "its classes, in the order of the model's probability outputs.",
    )
    positive_class: ClassLabel | None = Field(
        default=None, description="Binary only; defaults to the second class label."
    )
    prediction_column: str = Field(default="prediction", min_length=1, max_length=200)
    score_column: str = Field(default="score", min_length=1, max_length=200)
    label_column: str = Field(default="label", min_length=1, max_length=200)
    cost_profile: CostProfile = CostProfile()
    declared_metrics: dict[DeclaredMetric, Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="The levels the version promises (EU AI Act Art. 15), e.g. "
        '{"accuracy": 0.83, "roc_auc": 0.90}: performance and estimated-performance '
        "monitors alert below a score's level (above an error's).",
    )

    @field_validator("features")
    @classmethod
    def _unique_names(cls, features: list[FeatureSpec]) -> list[FeatureSpec]:
        seen: set[str] = set()
        for feature in features:
            if feature.name in seen:
                raise ValueError(f"feature '{feature.name}' is listed twice")
            seen.add(feature.name)
        if not any(feature.model_input for feature in features):
            raise ValueError("at least one feature must be a model input")
        return features


class ArtifactRead(BaseModel):
    sha256: str
    size_bytes: int
    uploaded_at: datetime
    format: Literal["torch.export", "torchscript"]


class VersionRead(BaseModel):
    id: int
    model: str
    version: str
    task: Task
    features: list[FeatureSpec]
    class_labels: list[ClassLabel] | None
    positive_class: ClassLabel | None
    prediction_column: str
    score_column: str
    label_column: str
    cost_profile: CostProfile
    declared_metrics: dict[str, float]
    artifact: ArtifactRead | None
    created_at: datetime


class ReferenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    source: str
    source_format: str
    content_sha256: str
    row_count: int
    columns: list[str]
    created_at: datetime


def version_read(model_name: str, task: str, version: Any) -> VersionRead:
    artifact = None
    if version.artifact_sha256 is not None:
        artifact = ArtifactRead(
            sha256=version.artifact_sha256,
            size_bytes=version.artifact_size,
            uploaded_at=version.artifact_uploaded_at,
            # The stored file's suffix says it: .pt2 for torch.export, .pt for TorchScript.
            format="torch.export" if version.artifact_path.endswith(".pt2") else "torchscript",
        )
    return VersionRead(
        id=version.id,
        model=model_name,
        version=version.version,
        task=Task(task),
        features=[FeatureSpec.model_validate(f) for f in version.features],
        class_labels=version.class_labels,
        positive_class=version.positive_class,
        prediction_column=version.prediction_column,
        score_column=version.score_column,
        label_column=version.label_column,
        cost_profile=CostProfile.model_validate(version.cost_profile),
        declared_metrics=version.declared_metrics or {},
        artifact=artifact,
        created_at=version.created_at,
    )
