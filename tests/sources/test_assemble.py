"""An incremental look's measurement: the fresh steps built and validated onto the kept ones, equal to a full build.

:func:`~analyzer.sources.assemble.assemble` given the last look's measurement builds and validates only
the steps from ``fresh_from`` on; whatever does not fit is built in full, and a fresh step that fails
validation is named by its step in the window, as a full build names it.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from analyzer.config import load_query_profile
from analyzer.judging.digest import measurement_digest
from analyzer.sources.assemble import assemble
from analyzer.sources.grid import Grid
from analyzer.sources.layout import Layout
from analyzer.sources.queries import ARMS, QueryProfile, Target, queries_of

TARGET = Target(namespace="shop", rollout="checkout", canary="c4a1e", stable="5b7d2")
PODS = {"canary": ["checkout-c4a1e-a", "checkout-c4a1e-b"], "stable": ["checkout-5b7d2-a", "checkout-5b7d2-b"]}
STEPS = 40


def _rows(profile: QueryProfile, steps: int, seed: int = 3, pods: dict[str, list[str]] = PODS) -> tuple[Layout, Grid]:
    """Random per-pod series of every part of ``profile`` (requests, errors, cumulative buckets, gauges) as rows."""
    rng = np.random.default_rng(seed)
    labels, values, parts = [], [], {}
    for name, queries in profile.metrics.items():
        for query in queries_of(queries):
            for arm in ARMS:
                parts[(name, query, arm)] = rows = []
                for pod in pods[arm]:
                    if query == "buckets":
                        counts = np.cumsum(rng.poisson(5.0, (steps, 4)), axis=1).astype(float)
                        for j, le in enumerate(("0.1", "0.25", "1", "+Inf")):
                            rows.append(len(labels))
                            labels.append({"pod": pod, "le": le})
                            values.append(counts[:, j])
                    else:
                        rows.append(len(labels))
                        labels.append({"pod": pod})
                        values.append(rng.poisson(40.0 if query == "total" else 2.0, steps).astype(float))
    grid = np.array(values)
    return Layout.of(profile, labels, parts), Grid(labels, grid, np.ones(grid.shape, dtype=bool))


def _head(grid: Grid, steps: int) -> Grid:
    return Grid(grid.labels, grid.values[:, :steps], grid.present[:, :steps])


@pytest.mark.parametrize("name", ["http", "http-resources"])
def test_the_fresh_steps_joined_to_the_kept_ones_equal_a_full_build(name):
    profile = load_query_profile(name)
    layout, grid = _rows(profile, STEPS)
    kept = assemble(profile, TARGET, layout, _head(grid, STEPS - 2), 60).measurement
    extended = assemble(profile, TARGET, layout, grid, 60, kept=kept, fresh_from=STEPS - 5)
    whole = assemble(profile, TARGET, layout, grid, 60)
    assert extended.fresh_from == STEPS - 5 and whole.fresh_from == 0
    assert extended.measurement == whole.measurement
    assert measurement_digest(extended.measurement) == measurement_digest(whole.measurement)
    assert (extended.unavailable, extended.notes) == (whole.unavailable, whole.notes)


def test_kept_steps_of_other_pods_are_built_again_in_full():
    profile = load_query_profile("http")
    layout, grid = _rows(profile, STEPS)
    other = {**PODS, "canary": ["checkout-c4a1e-z"]}
    kept = assemble(profile, TARGET, *_rows(profile, STEPS - 1, pods=other), 60).measurement
    extended = assemble(profile, TARGET, layout, grid, 60, kept=kept, fresh_from=STEPS - 4)
    assert extended.fresh_from == 0
    assert extended.measurement == assemble(profile, TARGET, layout, grid, 60).measurement


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_fresh_step_that_fails_validation_is_named_by_its_step_in_the_window():
    profile = load_query_profile("http")
    layout, grid = _rows(profile, STEPS)
    kept = assemble(profile, TARGET, layout, _head(grid, STEPS - 1), 60).measurement
    grid.values[layout.parts[("error-rate", "total", "canary")], STEPS - 2] = 1e308  # two pods' requests sum to inf
    with pytest.raises(ValidationError, match=rf"canary\.total\.{STEPS - 2}\b"):
        assemble(profile, TARGET, layout, grid, 60, kept=kept, fresh_from=STEPS - 4)
