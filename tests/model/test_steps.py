"""Steps of a validated measurement cut and joined without validating again (analyzer/model/steps.py)."""

from __future__ import annotations

import pytest

from analyzer.model import Measurement
from analyzer.model.steps import joined, steps_between
from analyzer.sources.simulate import Scenario, simulate


def _window(seed: int, steps: int = 12) -> Measurement:
    return simulate(Scenario(steps=steps, canary_pods=2, stable_pods=3), seed=seed)


def test_a_join_through_a_step_is_the_cut_then_the_join_and_validates_as_built():
    kept, fresh = _window(1), steps_between(_window(2), 8, 12)
    for through in (0, 5, 8, 12):
        spliced = joined(kept, fresh, through=through)
        assert spliced == joined(steps_between(kept, 0, through), fresh)
        assert Measurement.model_validate(spliced.model_dump()) == spliced  # as valid as a measurement built whole
    assert joined(kept, fresh) == joined(kept, fresh, through=None) == joined(kept, fresh, through=12)


def test_a_join_refuses_measurements_of_another_shape():
    with pytest.raises(ValueError, match="differ"):
        joined(_window(1), simulate(Scenario(steps=4, canary_pods=1, stable_pods=3), seed=2), through=4)
