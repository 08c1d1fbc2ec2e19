"""Direct loss estimation (DLE) as NannyML 0.13 defines it, with scikit-learn's
``HistGradientBoostingRegressor`` as the "nanny" model in place of LightGBM.

A nanny model learns, on the labelled reference, each row's absolute error (for MAE),
absolute percentage error (for MAPE) and squared error (for MSE and RMSE) from the
features and the prediction. A chunk's estimate is the mean of its rows' predicted
losses (negative predictions clipped to 0); RMSE is the root of the estimated MSE.
Sampling errors and the band come from the reference's observed losses, with NannyML's
formulas.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from detectors.estimate.cbpe import SAMPLING_ERROR_RANGE, Estimate
from detectors.performance.thresholds import band, chunk_bounds

DLE_METRICS = ("mae", "mape", "mse", "rmse")
EPS = float(np.finfo(np.float64).eps)


def _percentage_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Each row's absolute percentage error, as scikit-learn's
    ``mean_absolute_percentage_error`` and NannyML's nanny target take it."""
    return np.abs(y_true - y_pred) / np.maximum(EPS, np.abs(y_true))


def _realized(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    error = y_true - y_pred
    mse = float(np.mean(error**2))
    return {
        "mae": float(np.mean(np.abs(error))),
        "mape": float(np.mean(_percentage_errors(y_true, y_pred))),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
    }


@dataclass
class FittedDLE:
    numeric: list[str]
    categories: dict[str, list[str]]
    models: dict[str, HistGradientBoostingRegressor]
    abs_std: float
    # NannyML's MAPE sampling error divides by the signed label, without the floor.
    ape_std: float
    sq_std: float
    sq_mean: float
    reference_realized: dict[str, float]
    chunk_realized: list[dict[str, float]] = field(default_factory=list)

    def design(self, frame: pd.DataFrame, y_pred: np.ndarray) -> np.ndarray:
        """Numeric features, categorical features as their reference category's index
        (unseen: missing), and the prediction."""
        columns = [
            pd.to_numeric(frame[n], errors="coerce").to_numpy(np.float64) for n in self.numeric
        ]
        for name, categories in self.categories.items():
            codes = pd.Categorical(frame[name].astype(object), categories=categories).codes
            columns.append(np.where(codes >= 0, codes, np.nan).astype(np.float64))
        columns.append(y_pred.astype(np.float64))
        return np.column_stack(columns)

    def band(self, metric: str, k: float) -> tuple[float | None, float | None]:
        lower, upper = band([c[metric] for c in self.chunk_realized], metric, k)
        return (None if lower is None else max(lower, 0.0)), upper

    def estimate(self, frame: pd.DataFrame, y_pred: np.ndarray) -> dict[str, Estimate]:
        n = len(y_pred)
        x = self.design(frame, y_pred)
        mae = float(np.mean(np.maximum(0, self.models["abs"].predict(x))))
        mape = float(np.mean(np.maximum(0, self.models["ape"].predict(x))))
        mse = float(np.mean(np.maximum(0, self.models["sq"].predict(x))))
        values = {"mae": mae, "mape": mape, "mse": mse, "rmse": float(np.sqrt(mse))}
        errors = {
            "mae": self.abs_std / np.sqrt(n),
            "mape": self.ape_std / np.sqrt(n),
            "mse": self.sq_std / np.sqrt(n),
            "rmse": float(np.sqrt(self.sq_std**2 / (4 * n * self.sq_mean))),
        }
        return {
            name: Estimate(
                value=values[name],
                sampling_error=float(errors[name]),
                lower_confidence=max(0.0, values[name] - SAMPLING_ERROR_RANGE * errors[name]),
                upper_confidence=values[name] + SAMPLING_ERROR_RANGE * errors[name],
            )
            for name in DLE_METRICS
        }

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        pickle.dump(self, buffer, protocol=5)
        return buffer.getvalue()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()


def fit_dle(
    frame: pd.DataFrame,
    y_pred: np.ndarray,
    y_true: np.ndarray,
    *,
    numeric: list[str],
    categorical: list[str],
    chunks: int,
    seed: int = 0,
) -> FittedDLE:
    """Fit on labelled reference rows (no missing prediction or label)."""
    categories = {
        name: sorted({str(v) for v in frame[name].dropna().astype(object)}) for name in categorical
    }
    fitted = FittedDLE(
        numeric=list(numeric),
        categories=categories,
        models={},
        abs_std=float(np.std(np.abs(y_true - y_pred))),
        ape_std=float(np.std(np.abs(y_true - y_pred) / y_true)),
        sq_std=float(np.std((y_true - y_pred) ** 2)),
        sq_mean=float(np.mean((y_true - y_pred) ** 2)),
        reference_realized=_realized(y_true, y_pred),
        chunk_realized=[
            _realized(y_true[a:b], y_pred[a:b]) for a, b in chunk_bounds(len(y_true), chunks)
        ],
    )
    x = fitted.design(frame, y_pred)
    mask = np.array([False] * len(numeric) + [True] * len(categorical) + [False])
    targets = {
        "abs": np.abs(y_true - y_pred),
        "ape": _percentage_errors(y_true, y_pred),
        "sq": (y_true - y_pred) ** 2,
    }
    for name, target in targets.items():
        model = HistGradientBoostingRegressor(
            categorical_features=mask if mask.any() else None, random_state=seed
        )
        model.fit(x, target)
        fitted.models[name] = model
    return fitted
