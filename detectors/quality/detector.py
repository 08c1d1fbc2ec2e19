"""Data quality of a window's inputs against the reference: missing values, values
outside the reference's range (or the range the feature schema declares), unseen
categories, constant or near-constant columns, rows whose inputs duplicate another
row's, and a drop in traffic below the volume the reference implies.

Statistics Evidently's ``DataSummaryPreset`` also reports (row count, missing share,
min, max, mean, unique count, most common value's share) are computed as it computes
them.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import BaseDetector, ColumnKind, ColumnSpec, Params, Result, Status, Window

EXAMPLES = 5


class QualityParams(Params):
    max_missing_increase: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Missing share above the reference's by more than this.",
    )
    max_out_of_range_share: float = Field(default=0.01, ge=0, le=1)
    max_unseen_share: float = Field(default=0.01, ge=0, le=1)
    near_constant_share: float = Field(
        default=0.99, gt=0, le=1, description="A column whose most common value holds this share."
    )
    max_duplicate_share: float = Field(default=0.05, ge=0, le=1)
    min_volume_ratio: float | None = Field(
        default=0.5,
        ge=0,
        description="Alert when the window holds fewer rows than this share of the expected "
        "volume (the reference's rows per second times the window's length).",
    )
    expected_rows: int | None = Field(
        default=None, ge=1, description="The window's expected row count, when declared."
    )


class FeatureQuality(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    count: int
    missing: int
    missing_share: float
    reference_missing_share: float | None
    unique: int
    most_common_share: float | None
    constant: bool
    near_constant: bool
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    range_low: float | None = None
    range_high: float | None = None
    range_source: str | None = None
    out_of_range_share: float | None = None
    unseen_share: float | None = None
    unseen_examples: list[str] | None = None
    issues: list[str]


class DataQualityResult(Result):
    rows: int
    reference_rows: int
    features: list[FeatureQuality]
    duplicate_rows: int
    duplicate_share: float
    expected_rows: float | None
    volume_ratio: float | None
    alert_reasons: list[str]


def duplicate_rows(frame: pd.DataFrame, names: list[str]) -> int:
    """Rows whose ``names`` inputs repeat an earlier row's, as ``DataFrame.duplicated``
    counts them: rows are hashed column by column, and only rows sharing a hash are
    compared exactly."""
    hashes = np.zeros(len(frame), dtype=np.uint64)
    for name in names:
        column = frame[name].to_numpy()
        if column.dtype.kind == "f":
            # duplicated() holds -0.0 and 0.0 one value, and every NaN one value; a
            # hash of the bits would not.
            column = np.where(np.isnan(column), np.nan, column + 0.0)
        hashes = hashes * np.uint64(1_000_003) ^ pd.util.hash_array(column)
    candidates = pd.Series(hashes).duplicated(keep=False).to_numpy()
    if not candidates.any():
        return 0
    return int(frame.loc[candidates, names].duplicated().sum())


def distinct_and_top(present: np.ndarray, *, numeric: bool) -> tuple[int, int]:
    """Distinct values and the most common value's count (``value_counts``' first),
    by sorting numbers: a hash table of a million distinct floats is far slower."""
    if not len(present):
        return 0, 0
    if numeric:
        values = np.sort(present)
        values = values[~np.isnan(values)]
        if not len(values):
            return 0, 0
        edges = np.flatnonzero(np.diff(values)) + 1
        runs = np.diff(np.r_[0, edges, len(values)])
        return len(runs), int(runs.max())
    counts = pd.Series(present, dtype=object).value_counts()
    return len(counts), int(counts.iloc[0])


def _numbers(values: np.ndarray) -> np.ndarray:
    """Values as float64, NaN where one is not a number."""
    if values.dtype.kind == "f":
        return values.astype(np.float64, copy=False)
    return np.asarray(pd.to_numeric(values, errors="coerce"), dtype=np.float64)


def _column(window: Window, name: str) -> np.ndarray | None:
    # numpy arrays, not Series: numpy probing a Series for its array interface makes
    # pandas hash the window's object index (its event ids) every time.
    return window.frame[name].to_numpy() if name in window.frame else None


def _share(part: float, whole: int) -> float:
    return float(part) / whole if whole else 0.0


class DataQualityDetector(BaseDetector[QualityParams]):
    kind: ClassVar[str] = "data_quality"
    version: ClassVar[str] = "1"
    params_model: ClassVar[type[QualityParams]] = QualityParams

    def run(self, reference: Window, current: Window) -> DataQualityResult:
        if not len(current):
            return DataQualityResult(
                kind=self.kind,
                version=self.version,
                status=Status.INSUFFICIENT_DATA,
                rows=0,
                reference_rows=len(reference),
                features=[],
                duplicate_rows=0,
                duplicate_share=0.0,
                expected_rows=self._expected_rows(reference, current),
                volume_ratio=0.0 if self._expected_rows(reference, current) else None,
                alert_reasons=[],
            )
        features = [self._feature(spec, reference, current) for spec in current.columns]
        names = [spec.name for spec in current.columns if spec.name in current.frame]
        rows = len(current)
        duplicates = duplicate_rows(current.frame, names) if names and rows else 0
        duplicate_share = _share(duplicates, rows)
        reasons = [f"{f.name}: {issue}" for f in features for issue in f.issues]
        if duplicate_share > self.params.max_duplicate_share:
            reasons.append(
                f"{duplicate_share:.1%} of rows repeat another row's inputs "
                f"(allowed {self.params.max_duplicate_share:.1%})"
            )
        expected = self._expected_rows(reference, current)
        ratio = rows / expected if expected else None
        floor = self.params.min_volume_ratio
        if ratio is not None and floor is not None and ratio < floor:
            reasons.append(
                f"{rows} rows where about {expected:.0f} were expected "
                f"({ratio:.0%} of the usual volume; alert below {floor:.0%})"
            )
        return DataQualityResult(
            kind=self.kind,
            version=self.version,
            status=Status.ALERT if reasons else Status.OK,
            rows=rows,
            reference_rows=len(reference),
            features=features,
            duplicate_rows=duplicates,
            duplicate_share=duplicate_share,
            expected_rows=expected,
            volume_ratio=ratio,
            alert_reasons=reasons,
        )

    def _expected_rows(self, reference: Window, current: Window) -> float | None:
        if self.params.expected_rows is not None:
            return float(self.params.expected_rows)
        if (
            reference.start is None
            or reference.end is None
            or current.start is None
            or current.end is None
            or not len(reference)
        ):
            return None
        ref_seconds = (reference.end - reference.start).total_seconds()
        cur_seconds = (current.end - current.start).total_seconds()
        return len(reference) * cur_seconds / ref_seconds if ref_seconds > 0 else None

    def _feature(self, spec: ColumnSpec, reference: Window, current: Window) -> FeatureQuality:
        p = self.params
        numeric = spec.kind == ColumnKind.NUMERIC
        found = _column(current, spec.name)
        values = found if found is not None else np.array([], dtype=object)
        ref_values = _column(reference, spec.name)
        rows = len(values)
        absent = pd.isna(values)
        missing = int(absent.sum())
        present = values[~absent] if missing else values
        numbers = _numbers(present) if numeric else present
        distinct, top = distinct_and_top(numbers, numeric=numeric)
        top_share = top / len(present) if len(present) else None
        ref_absent = pd.isna(ref_values) if ref_values is not None else None
        ref_present = (
            ref_values[~ref_absent] if ref_values is not None and ref_absent is not None else None
        )
        ref_missing = (
            _share(int(ref_absent.sum()), len(ref_values))
            if ref_values is not None and ref_absent is not None and len(ref_values)
            else None
        )
        issues: list[str] = []
        missing_share = _share(missing, rows)
        baseline = ref_missing or 0.0
        if missing_share - baseline > p.max_missing_increase:
            issues.append(f"{missing_share:.1%} missing (reference {baseline:.1%})")
        constant = distinct <= 1 and rows > 0
        near_constant = top_share is not None and top_share >= p.near_constant_share
        if (constant or near_constant) and ref_present is not None:
            # The reference's spread matters only for a column that barely varies.
            ref_counts = pd.Series(ref_present, dtype=ref_present.dtype).value_counts(
                normalize=True
            )
            if len(ref_counts) > 1 and constant:
                issues.append("constant in the window, varied in the reference")
            elif len(ref_counts) > 1 and float(ref_counts.iloc[0]) < p.near_constant_share:
                issues.append(f"near-constant: one value holds {top_share:.1%}")
        extra: dict[str, object] = {}
        if numeric:
            extra.update(
                min=float(numbers.min()) if len(numbers) else None,
                max=float(numbers.max()) if len(numbers) else None,
                mean=float(numbers.mean()) if len(numbers) else None,
            )
            low, high, source = self._range(spec, ref_present)
            if low is not None and high is not None:
                outside = int(np.sum((numbers < low) | (numbers > high)))
                share = _share(outside, len(numbers))
                extra.update(
                    range_low=low, range_high=high, range_source=source, out_of_range_share=share
                )
                if share > p.max_out_of_range_share:
                    issues.append(
                        f"{share:.1%} of values outside the {source} range [{low:.4g}, {high:.4g}]"
                    )
        else:
            known = set(spec.categories) if spec.categories else None
            if known is None and ref_present is not None:
                known = {str(v) for v in pd.unique(ref_present)}
            if known is not None:
                text = pd.Series(present, dtype=object).astype(str)
                unseen = text[~text.isin(known)]
                share = _share(len(unseen), len(present))
                extra.update(
                    unseen_share=share,
                    unseen_examples=sorted(unseen.unique().tolist())[:EXAMPLES],
                )
                if share > p.max_unseen_share:
                    issues.append(f"{share:.1%} of values are categories the reference never had")
        return FeatureQuality(
            name=spec.name,
            kind=spec.kind.value,
            count=rows - missing,
            missing=missing,
            missing_share=missing_share,
            reference_missing_share=ref_missing,
            unique=distinct,
            most_common_share=top_share,
            constant=constant,
            near_constant=near_constant,
            issues=issues,
            **extra,
        )

    @staticmethod
    def _range(
        spec: ColumnSpec, ref_present: np.ndarray | None
    ) -> tuple[float | None, float | None, str | None]:
        if spec.value_range is not None:
            return spec.value_range[0], spec.value_range[1], "declared"
        if ref_present is None:
            return None, None, None
        numbers = _numbers(ref_present)
        numbers = numbers[~np.isnan(numbers)]
        if not len(numbers):
            return None, None, None
        return float(numbers.min()), float(numbers.max()), "reference"
