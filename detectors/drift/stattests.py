"""Evidently's drift statistics, computed the same way on numpy arrays.

Each function takes the reference and current values of one column with NaN and
±inf already removed, and returns ``(score, drifted)``. The maths follows
``evidently.legacy.calculations.stattests`` (0.7) line for line; the tests compare
every statistic with Evidently's own function on the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from detectors.base import ColumnKind

Values = np.ndarray
Outcome = tuple[float, bool]
StatTestFunction = Callable[[Values, Values, ColumnKind, float], Outcome]


@dataclass(frozen=True)
class StatTest:
    name: str
    function: StatTestFunction
    kinds: frozenset[ColumnKind]
    default_threshold: float
    # p-value tests flag drift below the threshold, distances at or above it.
    is_p_value: bool


def _counts(reference: Values, current: Values) -> tuple[Values, Values]:
    """Counts of every value seen in either window, aligned (hashing, not sorting)."""
    codes, keys = pd.factorize(np.concatenate([reference, current]))
    split = len(reference)
    ref_counts = np.bincount(codes[:split], minlength=len(keys)).astype(float)
    cur_counts = np.bincount(codes[split:], minlength=len(keys)).astype(float)
    return ref_counts, cur_counts


def n_distinct(*arrays: Values, cap: int) -> int:
    """The number of distinct values, exact up to ``cap``; above it, some number
    greater than ``cap``. Evidently's choices only compare it with small bounds, and a
    prefix usually settles that without hashing every value."""
    prefix = len(pd.unique(np.concatenate([a[:4096] for a in arrays])))
    if prefix > cap:
        return prefix
    return len(pd.unique(np.concatenate(arrays)))


def _fill_zeroes(percents: Values) -> Values:
    smallest = percents[percents != 0].min()
    filled = percents.copy()
    filled[filled == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return filled


def binned_percents(
    reference: Values, current: Values, kind: ColumnKind, *, fill_zeroes: bool
) -> tuple[Values, Values]:
    """Evidently's ``get_binned_data``: Sturges bins over both windows for a numeric
    column with more than 20 distinct reference values, else one bin per value."""
    if kind == ColumnKind.NUMERIC and n_distinct(reference, cap=20) > 20:
        bins = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
        ref = np.histogram(reference, bins)[0] / len(reference)
        cur = np.histogram(current, bins)[0] / len(current)
    else:
        ref_counts, cur_counts = _counts(reference, current)
        ref, cur = ref_counts / len(reference), cur_counts / len(current)
    if fill_zeroes:
        ref, cur = _fill_zeroes(ref), _fill_zeroes(cur)
    return ref, cur


def ks(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    p_value = float(stats.ks_2samp(reference, current)[1])
    return p_value, p_value <= threshold


def chisquare(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    ref_counts, cur_counts = _counts(reference, current)
    expected = ref_counts * (len(current) / len(reference))
    # A category unseen in the reference has zero expectation: infinite statistic,
    # p-value 0, as in Evidently.
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = float(stats.chisquare(cur_counts, expected)[1])
    return p_value, p_value < threshold


def z_test(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    """Two-proportion z-test on 'equals the smallest value' vs the rest."""
    ref_unique, cur_unique = pd.unique(reference), pd.unique(current)
    if len(ref_unique) == 1 and len(cur_unique) == 1 and ref_unique[0] == cur_unique[0]:
        return 1.0, False
    first = min(pd.unique(np.concatenate([reference, current])))
    n1, n2 = len(reference), len(current)
    p1 = float(np.sum(reference != first)) / n1
    p2 = float(np.sum(current != first)) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    p_value = float(2 * (1 - stats.norm.cdf(np.abs(z))))
    return p_value, p_value < threshold


def wasserstein(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    """Wasserstein distance normed by the reference's standard deviation."""
    norm = max(float(np.std(reference)), 0.001)
    value = wasserstein_distance(reference, current) / norm
    return value, value >= threshold


def wasserstein_distance(u: Values, v: Values) -> float:
    """scipy's ``wasserstein_distance`` (the L1 distance between the two empirical
    CDFs), computed as the L1 distance between the quantile functions, which is the
    same integral: ``∫|F_u⁻¹(p) − F_v⁻¹(p)| dp``. The quantile functions of n and m
    sorted values step at p = i/n and j/m; on the grid of both (as integers i·m and
    j·n, merged by a linear-time radix sort) each piece is one subtraction, so the
    cost is two sorts and a few passes instead of scipy's searches."""
    u_sorted, v_sorted = _sorted(u), _sorted(v)
    n, m = len(u_sorted), len(v_sorted)
    steps = np.sort(
        np.concatenate([np.arange(n, dtype=np.int64) * m, np.arange(m, dtype=np.int64) * n]),
        kind="stable",
    )
    grid = np.append(steps[np.concatenate([[True], np.diff(steps) != 0])], n * m)
    at = grid[:-1]
    gaps = np.abs(u_sorted[at // m] - v_sorted[at // n])
    return float(np.dot(np.diff(grid), gaps) / (n * m))


def _sorted(values: Values) -> Values:
    # The detector hands numeric columns over sorted already (for its histograms).
    return values if values.size < 2 or bool(np.all(values[1:] >= values[:-1])) else np.sort(values)


def jensenshannon(
    reference: Values, current: Values, kind: ColumnKind, threshold: float
) -> Outcome:
    ref, cur = binned_percents(reference, current, kind, fill_zeroes=False)
    value = float(distance.jensenshannon(ref, cur, None))
    return value, value >= threshold


def psi(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    """Population stability index."""
    ref, cur = binned_percents(reference, current, kind, fill_zeroes=True)
    value = float(np.sum((ref - cur) * np.log(ref / cur)))
    return value, value >= threshold


def hellinger(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    if kind == ColumnKind.CATEGORICAL:
        ref_counts, cur_counts = _counts(reference, current)
        overlap = float(np.sum(np.sqrt(ref_counts / len(reference) * cur_counts / len(current))))
    else:
        bins = np.histogram_bin_edges(
            pd.unique(np.concatenate([reference, current])), bins="sturges"
        )
        h1 = np.histogram(reference, bins=bins, density=True)[0]
        h2 = np.histogram(current, bins=bins, density=True)[0]
        width = (bins.max() - bins.min()) / (len(bins) - 1)
        overlap = float(np.sum(np.sqrt(h1 * h2) * width))
    value = float(np.sqrt(1 - np.clip(overlap, 0, 1)))
    return value, value >= threshold


def anderson(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    p_value = float(stats.anderson_ksamp([reference, current])[2])
    return p_value, p_value < threshold


def energy(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    value = float(stats.energy_distance(reference, current))
    return value, value > threshold


def epps_singleton(
    reference: Values, current: Values, kind: ColumnKind, threshold: float
) -> Outcome:
    if stats.iqr(np.hstack((reference, current))) == 0:
        raise ValueError("Epps-Singleton needs a non-zero interquartile range")
    p_value = float(stats.epps_singleton_2samp(reference, current)[1])
    return p_value, p_value < threshold


def g_test(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    """Evidently compares raw counts, so windows of different sizes are refused (scipy
    requires equal sums)."""
    ref_counts, cur_counts = _counts(reference, current)
    p_value = float(stats.power_divergence(cur_counts, ref_counts, lambda_="log-likelihood")[1])
    return p_value, p_value < threshold


def kl_divergence(
    reference: Values, current: Values, kind: ColumnKind, threshold: float
) -> Outcome:
    ref, cur = binned_percents(reference, current, kind, fill_zeroes=True)
    value = float(stats.entropy(ref, cur))
    return value, value >= threshold


def mann_whitney(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    p_value = float(stats.mannwhitneyu(x=reference, y=current, alternative="less")[1])
    return p_value, p_value < threshold


def t_test(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    p_value = float(stats.ttest_ind(reference, current)[1])
    return p_value, p_value < threshold


def cramer_von_mises(
    reference: Values, current: Values, kind: ColumnKind, threshold: float
) -> Outcome:
    """Evidently carries a copy of scipy's two-sample test; scipy's own is used."""
    if len(reference) <= 1 or len(current) <= 1:
        raise ValueError("Cramer-von Mises needs at least two values in each window")
    p_value = float(stats.cramervonmises_2samp(reference, current).pvalue)
    return p_value, p_value <= threshold


def fisher_exact(reference: Values, current: Values, kind: ColumnKind, threshold: float) -> Outcome:
    """Fisher's exact test on a 2x2 table: Evidently defines it only for binary columns
    and windows of equal size."""
    ref_counts, cur_counts = _counts(reference, current)
    if len(ref_counts) > 2:
        raise ValueError(
            "Expects binary data for both reference and current, but found unique categories > 2"
        )
    if len(reference) != len(current):
        raise ValueError(
            "reference_data and current_data are not of equal length, please ensure "
            "that they are of equal length (Fisher's exact test)"
        )
    if len(ref_counts) < 2:
        ref_counts, cur_counts = np.append(ref_counts, 0.0), np.append(cur_counts, 0.0)
    table = np.array([cur_counts, ref_counts]).astype(np.int64)
    p_value = float(stats.fisher_exact(table)[1])
    return p_value, p_value < threshold


# Evidently's permutation tests are seeded; Verity uses the same streams, so the
# p-values are reproducible run to run and equal to Evidently's.
PERMUTATION_SEED = 0
TVD_PERMUTATIONS = 1000
MMD_PERMUTATIONS = 100
MMD_MAX_ROWS = 5000


def _tvd(ref_counts: Values, cur_counts: Values) -> Values:
    """Total variation distance along the last axis."""
    ref_total = ref_counts.sum(axis=-1, keepdims=True)
    cur_total = cur_counts.sum(axis=-1, keepdims=True)
    return 0.5 * np.sum(np.abs(ref_counts / ref_total - cur_counts / cur_total), axis=-1)


def total_variation(
    reference: Values, current: Values, kind: ColumnKind, threshold: float
) -> Outcome:
    """TVD with Evidently's two-sided permutation p-value (1,000 permutations, seed 0),
    permuting category codes and counting with bincount instead of Counter."""
    codes, keys = pd.factorize(np.concatenate([reference, current]))
    n_ref, n_keys = len(reference), len(keys)
    ref_counts = np.bincount(codes[:n_ref], minlength=n_keys).astype(float)
    total = np.bincount(codes, minlength=n_keys).astype(float)
    observed = float(_tvd(ref_counts, total - ref_counts))
    rng = np.random.RandomState(PERMUTATION_SEED)
    permuted = np.empty((TVD_PERMUTATIONS, n_keys))
    for i in range(TVD_PERMUTATIONS):
        # legacy RandomState.choice(n, size, replace=False) is permutation(n)[:size]
        chosen = codes[rng.permutation(len(codes))[:n_ref]]
        permuted[i] = np.bincount(chosen, minlength=n_keys)
    statistics = _tvd(permuted, total - permuted)
    p_value = float(np.sum(observed <= np.abs(statistics)) / TVD_PERMUTATIONS)
    return p_value, p_value < threshold


def empirical_mmd(
    reference: Values, current: Values, kind: ColumnKind, threshold: float
) -> Outcome:
    """Maximum mean discrepancy with an RBF kernel (median heuristic on the
    reference) and Evidently's 100-permutation p-value. The kernel matrix is
    (n + m)², so the windows are bounded; sample larger ones."""
    n, m = len(reference), len(current)
    if n + m > MMD_MAX_ROWS:
        raise ValueError(
            f"empirical MMD builds an (n+m)^2 kernel matrix: at most {MMD_MAX_ROWS} rows "
            f"in both windows, got {n + m}; set a sampling cap or choose another test"
        )
    if n < 2 or m < 2:
        raise ValueError("empirical MMD needs at least two values in each window")
    x = reference.astype(float)
    y = current.astype(float)
    sigma = float(0.5 * np.percentile((x[:, None] - x[None, :]) ** 2, 50, method="nearest")) ** 0.5
    if sigma == 0:
        sigma = 0.5**0.5
    gamma = 1.0 / (2.0 * sigma**2)
    pooled = np.concatenate([x, y])
    kernel = np.exp(-gamma * (pooled[:, None] - pooled[None, :]) ** 2)
    np.fill_diagonal(kernel, 0.0)
    a, b = 1 / (n * (n - 1)), 1 / (m * (m - 1))

    def mmd(in_x: Values) -> Values:
        """MMD for each column of a (n+m, k) indicator of which rows play x."""
        in_y = 1.0 - in_x
        kx, ky = kernel @ in_x, kernel @ in_y
        within = a * np.sum(in_x * kx, 0) + b * np.sum(in_y * ky, 0)
        return within - 2.0 * np.sum(in_y * kx, 0) / (n * m)

    identity = np.zeros((n + m, 1))
    identity[:n] = 1.0
    observed = mmd(identity)[0]
    rng = np.random.RandomState(PERMUTATION_SEED)
    indicators = np.zeros((n + m, MMD_PERMUTATIONS))
    for i in range(MMD_PERMUTATIONS):
        # Evidently's permuted matrix puts rows index[:n] in the x block.
        indicators[rng.permutation(n + m)[:n], i] = 1.0
    p_value = float(np.mean(observed <= mmd(indicators)))
    return p_value, p_value < threshold


NUMERIC = frozenset({ColumnKind.NUMERIC})
CATEGORICAL = frozenset({ColumnKind.CATEGORICAL})
BOTH = NUMERIC | CATEGORICAL
STAT_TESTS: dict[str, StatTest] = {
    "ks": StatTest("ks", ks, NUMERIC, 0.05, True),
    "chisquare": StatTest("chisquare", chisquare, CATEGORICAL, 0.05, True),
    "z": StatTest("z", z_test, CATEGORICAL, 0.05, True),
    "wasserstein": StatTest("wasserstein", wasserstein, NUMERIC, 0.1, False),
    "jensenshannon": StatTest("jensenshannon", jensenshannon, BOTH, 0.1, False),
    "psi": StatTest("psi", psi, BOTH, 0.1, False),
    "hellinger": StatTest("hellinger", hellinger, BOTH, 0.1, False),
    "anderson": StatTest("anderson", anderson, NUMERIC, 0.1, True),
    "ed": StatTest("ed", energy, NUMERIC, 0.1, False),
    "es": StatTest("es", epps_singleton, NUMERIC, 0.05, True),
    "g_test": StatTest("g_test", g_test, CATEGORICAL, 0.1, True),
    "kl_div": StatTest("kl_div", kl_divergence, BOTH, 0.1, False),
    "mannw": StatTest("mannw", mann_whitney, NUMERIC, 0.05, True),
    "t_test": StatTest("t_test", t_test, NUMERIC, 0.05, True),
    "cramer_von_mises": StatTest("cramer_von_mises", cramer_von_mises, NUMERIC, 0.1, True),
    "fisher_exact": StatTest("fisher_exact", fisher_exact, CATEGORICAL, 0.1, True),
    "TVD": StatTest("TVD", total_variation, CATEGORICAL, 0.1, True),
    "empirical_mmd": StatTest("empirical_mmd", empirical_mmd, NUMERIC, 0.1, True),
}


def default_stattest(reference: Values, current: Values, kind: ColumnKind) -> StatTest:
    """Evidently's default choice by column type, reference size and distinct values."""
    n_values = n_distinct(reference, current, cap=5)
    if len(reference) <= 1000:
        if kind == ColumnKind.NUMERIC and n_values > 5:
            return STAT_TESTS["ks"]
        return STAT_TESTS["chisquare"] if n_values > 2 else STAT_TESTS["z"]
    if kind == ColumnKind.NUMERIC and n_values > 5:
        return STAT_TESTS["wasserstein"]
    return STAT_TESTS["jensenshannon"]
