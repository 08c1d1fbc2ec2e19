"""A monitor run per segment: the window's rows grouped by the values of categorical
features, the ``top_k`` largest groups each run on their own, every other row as one
"other" segment. Each segment is compared with the same segment of the reference when
the reference holds the segment's features, with the whole reference otherwise."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd

from backend.runs.windows.load import category_text
from detectors.base import Result, Window

OTHER = "(other)"
MISSING = "(missing)"
STATUS_RANK = {"insufficient_data": 0, "ok": 1, "warning": 2, "alert": 3}


def segment_keys(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    """Each row's segment as text: ``region=eu`` or ``region=eu,tier=gold``."""
    parts = [name + "=" + category_text(frame[name]).fillna(MISSING).astype(str) for name in by]
    keys = parts[0]
    for part in parts[1:]:
        keys = keys + "," + part
    return keys


def _slice(window: Window, mask: pd.Series) -> Window:
    return dataclasses.replace(window, frame=window.frame.loc[mask.to_numpy()])


def run_segments(
    run: Callable[[Window, Window], Result],
    reference: Window,
    current: Window,
    by: list[str],
    top_k: int,
) -> list[dict[str, Any]]:
    keys = segment_keys(current.frame, by)
    volumes = keys.value_counts(sort=True)
    # Ties in volume are broken by the key, so the same rows give the same segments.
    ordered = sorted(volumes.items(), key=lambda item: (-item[1], item[0]))
    top = [str(key) for key, _ in ordered[:top_k]]
    has_reference_keys = all(name in reference.frame for name in by)
    ref_keys = segment_keys(reference.frame, by) if has_reference_keys else None
    segments: list[tuple[str, pd.Series, pd.Series | None]] = []
    for key in top:
        segments.append((key, keys == key, None if ref_keys is None else ref_keys == key))
    rest = ~keys.isin(top)
    if rest.any():
        ref_rest = None if ref_keys is None else ~ref_keys.isin(top)
        segments.append((OTHER, rest, ref_rest))
    out = []
    for key, mask, ref_mask in segments:
        result = run(
            reference if ref_mask is None else _slice(reference, ref_mask), _slice(current, mask)
        )
        out.append(
            {
                "segment": key,
                "rows": int(mask.sum()),
                "reference_rows": len(reference) if ref_mask is None else int(ref_mask.sum()),
                "status": result.status.value,
                "result": result.model_dump(mode="json"),
            }
        )
    return out


def worst_status(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: STATUS_RANK.get(s, 0))
