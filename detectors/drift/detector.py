"""Data and prediction drift, per column, with Evidently's statistics."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.base import BaseDetector, ColumnKind, Params, Result, Status, Window
from detectors.drift.stattests import STAT_TESTS, StatTest, default_stattest


class DriftParams(Params):
    """``stattest`` overrides Evidently's default choice for every column,
    ``per_column_stattest`` for one; thresholds likewise (else the test's default).
    The dataset drifts when the share of drifted columns reaches ``drift_share``."""

    stattest: str | None = None
    per_column_stattest: dict[str, str] = Field(default_factory=dict)
    threshold: float | None = Field(default=None, gt=0)
    per_column_threshold: dict[str, float] = Field(default_factory=dict)
    drift_share: float = Field(default=0.5, gt=0, le=1)
    include_prediction: bool = True
    # The score column (a binary model's P(positive)), tested as a numeric column when
    # both windows log scores, as Evidently's preset does.
    include_score: bool = True
    # Read by the backend, not here: an Evidently HTML report on a sample of this many
    # rows of each window is stored with the run (0: none).
    report_rows: int = Field(default=0, ge=0, le=100_000)

    @field_validator("stattest")
    @classmethod
    def _known(cls, name: str | None) -> str | None:
        if name is not None and name not in STAT_TESTS:
            raise ValueError(f"unknown stattest '{name}'; known: {sorted(STAT_TESTS)}")
        return name

    @field_validator("per_column_stattest")
    @classmethod
    def _known_each(cls, names: dict[str, str]) -> dict[str, str]:
        for column, name in names.items():
            if name not in STAT_TESTS:
                raise ValueError(
                    f"unknown stattest '{name}' for '{column}'; known: {sorted(STAT_TESTS)}"
                )
        return names


class Histogram(BaseModel):
    """Reference and current counts over the same bins: ``edges`` for a numeric column
    (len(counts) + 1 of them), ``categories`` for a categorical one (the most common
    in either window, at most 20; the rest are not counted)."""

    model_config = ConfigDict(frozen=True)

    edges: list[float] | None = None
    categories: list[str] | None = None
    reference: list[int]
    current: list[int]


HISTOGRAM_BINS = 20


def _sorted_counts(values: np.ndarray, edges: np.ndarray) -> list[int]:
    """np.histogram's counts (last bin closed) of already sorted values: a binary
    search per edge instead of a pass over the values."""
    at = np.searchsorted(values, edges, side="left")
    at[-1] = np.searchsorted(values, edges[-1], side="right")
    return np.diff(at).astype(int).tolist()


def _histogram(ref: np.ndarray, cur: np.ndarray, vocabulary: np.ndarray | None) -> Histogram:
    """Numeric windows come sorted (the detector sorts them once, for the test too)."""
    if vocabulary is None:
        low, high = float(min(ref[0], cur[0])), float(max(ref[-1], cur[-1]))
        edges = np.linspace(low, high if high > low else low + 1.0, HISTOGRAM_BINS + 1)
        return Histogram(
            edges=edges.tolist(),
            reference=_sorted_counts(ref, edges),
            current=_sorted_counts(cur, edges),
        )
    size = len(vocabulary)
    ref_counts = np.bincount(ref.astype(np.int64), minlength=size)
    cur_counts = np.bincount(cur.astype(np.int64), minlength=size)
    top = np.argsort(-(ref_counts + cur_counts), kind="stable")[:HISTOGRAM_BINS]
    return Histogram(
        categories=[str(vocabulary[i]) for i in top],
        reference=ref_counts[top].tolist(),
        current=cur_counts[top].tolist(),
    )


class ColumnDrift(Result):
    column: str
    column_kind: ColumnKind
    stattest: str | None
    score: float | None
    threshold: float | None
    drifted: bool
    reference_rows: int
    current_rows: int
    reference_missing: int
    current_missing: int
    unseen_categories: list[str] = Field(default_factory=list)
    histogram: Histogram | None = None
    detail: str | None = None


class DriftResult(Result):
    columns: list[ColumnDrift]
    drifted_columns: int
    evaluated_columns: int
    share_drifted: float
    drift_share: float
    dataset_drift: bool


def _numbers(values: pd.Series) -> tuple[np.ndarray, int]:
    """Finite values only: Evidently drops NaN and ±inf before a test."""
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float)
    else:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(numbers)
    return numbers[keep], int((~keep).sum())


def _category_codes(
    reference: pd.Series, current: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Both windows' categories as integer codes of one sorted vocabulary.

    The statistics only compare values for identity, except the Z-test's 'smallest
    value', which sorted codes keep. Hashing once is far cheaper than sorting strings.
    """
    ref_keep, cur_keep = reference.notna().to_numpy(), current.notna().to_numpy()
    ref_values, cur_values = reference[ref_keep], current[cur_keep]
    combined = np.concatenate([ref_values.to_numpy(), cur_values.to_numpy()])
    if not all(isinstance(v, str) for v in pd.unique(combined)):
        combined = combined.astype(str)
    codes, vocabulary = pd.factorize(combined, sort=True)
    split = len(ref_values)
    missing = (int((~ref_keep).sum()), int((~cur_keep).sum()))
    return codes[:split], codes[split:], np.asarray(vocabulary), *missing


def _unevaluated(
    base: dict[str, Any], stattest: str | None, threshold: float | None, detail: str
) -> ColumnDrift:
    """A column the detector could not score, and why."""
    return ColumnDrift(
        **base,
        status=Status.INSUFFICIENT_DATA,
        stattest=stattest,
        score=None,
        threshold=threshold,
        drifted=False,
        detail=detail,
    )


class DriftDetector(BaseDetector[DriftParams]):
    kind: ClassVar[str] = "drift"
    # 2: each evaluated column carries a histogram of both windows. 3: the score column.
    version: ClassVar[str] = "3"
    params_model: ClassVar[type[Params]] = DriftParams

    def run(self, reference: Window, current: Window) -> DriftResult:
        targets = [(c.name, c.kind) for c in current.columns]
        # A reference without predictions (features only) leaves prediction drift out.
        if (
            self.params.include_prediction
            and current.prediction
            and current.prediction in reference.frame.columns
        ):
            kind = (
                ColumnKind.NUMERIC
                if pd.api.types.is_numeric_dtype(reference.frame[current.prediction])
                else ColumnKind.CATEGORICAL
            )
            targets.append((current.prediction, kind))
        score = current.score
        if (
            self.params.include_score
            and score
            and score in reference.frame.columns
            and current.frame[score].notna().any()
        ):
            targets.append((score, ColumnKind.NUMERIC))
        # numpy's sorts release the GIL: columns run side by side on all cores.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            results = list(
                pool.map(lambda t: self._column(t[0], t[1], reference, current), targets)
            )
        evaluated = [r for r in results if r.status != Status.INSUFFICIENT_DATA]
        drifted = sum(r.drifted for r in evaluated)
        share = drifted / len(evaluated) if evaluated else 0.0
        dataset_drift = bool(evaluated) and share >= self.params.drift_share
        if not evaluated:
            status = Status.INSUFFICIENT_DATA
        elif dataset_drift:
            status = Status.ALERT
        elif drifted:
            status = Status.WARNING
        else:
            status = Status.OK
        return DriftResult(
            kind=self.kind,
            version=self.version,
            status=status,
            columns=results,
            drifted_columns=drifted,
            evaluated_columns=len(evaluated),
            share_drifted=share,
            drift_share=self.params.drift_share,
            dataset_drift=dataset_drift,
        )

    def _stattest(self, name: str, ref: np.ndarray, cur: np.ndarray, kind: ColumnKind) -> StatTest:
        chosen = self.params.per_column_stattest.get(name, self.params.stattest)
        return STAT_TESTS[chosen] if chosen else default_stattest(ref, cur, kind)

    def _column(
        self, name: str, kind: ColumnKind, reference: Window, current: Window
    ) -> ColumnDrift:
        vocabulary = None
        if kind == ColumnKind.NUMERIC:
            ref, ref_missing = _numbers(reference.frame[name])
            cur, cur_missing = _numbers(current.frame[name])
            # Sorted once: the tests take any order, and the histogram reads counts off
            # sorted values in microseconds.
            ref.sort()
            cur.sort()
        else:
            ref, cur, vocabulary, ref_missing, cur_missing = _category_codes(
                reference.frame[name], current.frame[name]
            )
        base = {
            "kind": self.kind,
            "version": self.version,
            "column": name,
            "column_kind": kind,
            "reference_rows": len(ref),
            "current_rows": len(cur),
            "reference_missing": ref_missing,
            "current_missing": cur_missing,
        }
        if len(ref) == 0 or len(cur) == 0:
            return _unevaluated(base, None, None, "no non-missing values in a window")
        test = self._stattest(name, ref, cur, kind)
        if kind not in test.kinds:
            detail = f"stattest '{test.name}' does not apply to {kind.value} columns"
            return _unevaluated(base, test.name, None, detail)
        threshold = self.params.per_column_threshold.get(
            name, self.params.threshold or test.default_threshold
        )
        try:
            score, drifted = test.function(ref, cur, kind, threshold)
        except ValueError as exc:
            # The statistic is undefined on these windows (Evidently raises the same).
            return _unevaluated(base, test.name, threshold, str(exc))
        unseen = (
            sorted(str(vocabulary[code]) for code in set(pd.unique(cur)) - set(pd.unique(ref)))
            if vocabulary is not None
            else []
        )
        return ColumnDrift(
            **base,
            status=Status.ALERT if drifted else Status.OK,
            stattest=test.name,
            score=score,
            threshold=threshold,
            drifted=bool(drifted),
            unseen_categories=unseen[:100],
            histogram=_histogram(ref, cur, vocabulary),
        )
