"""The contract, checked for every registered detector."""

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from detectors.base import ColumnKind, ColumnSpec, Result, Status, Window
from detectors.registry import DETECTORS, UnknownDetector, build, kinds


def _window(n):
    rng = np.random.default_rng(n)
    frame = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})
    return Window(
        frame, (ColumnSpec("x", ColumnKind.NUMERIC), ColumnSpec("c", ColumnKind.CATEGORICAL))
    )


# The least each kind needs; a kind missing here fails the contract test.
MINIMAL_PARAMS: dict[str, dict[str, Any]] = {
    "drift": {},
    "bias": {},
    "cost": {"price_per_1k_predictions": 0.5},
    "explain": {"nsamples": 64, "max_rows": 5},
    "performance": {},
    "estimated_performance": {},
    "data_quality": {},
    "comparison": {"champion": "v1"},
    "review": {},
}


@pytest.mark.parametrize("kind", sorted(DETECTORS))
def test_every_detector_keeps_the_contract(kind):
    detector = build(kind, MINIMAL_PARAMS[kind])
    assert detector.kind == kind and detector.version
    reference, current = _window(500), _window(400)
    frame_before = reference.frame.copy()
    first = detector.run(reference, current)
    assert isinstance(first, Result) and first.kind == kind and first.status in set(Status)
    assert detector.run(reference, current) == first  # deterministic
    pd.testing.assert_frame_equal(reference.frame, frame_before)  # the reference is not mutated
    with pytest.raises(ValidationError):
        first.status = Status.OK  # type: ignore[misc]  # frozen: assigning must fail
    empty = detector.run(_window(0), _window(0))
    assert empty.status == Status.INSUFFICIENT_DATA


def test_kinds_serves_params_schemas_and_unknown_kinds_are_refused():
    schemas = kinds()
    assert set(schemas) == set(DETECTORS)
    assert "drift_share" in schemas["drift"]["params_schema"]["properties"]
    with pytest.raises(UnknownDetector, match="unknown detector kind"):
        build("astrology")
