"""Row groups add up in the order the series-by-series code added them, to the last bit."""

from __future__ import annotations

import numpy as np

from analyzer.config import load_query_profile
from analyzer.sources.layout import Groups, Layout, in_order


def _sequential(rows: list[np.ndarray], steps: int) -> np.ndarray:
    total = np.zeros(steps)
    for row in rows:
        total = total + row
    return total


def test_groups_add_their_rows_in_row_order_from_zero():
    rng = np.random.default_rng(2)
    values = rng.random((40, 1)) * 1e3  # one step: numpy's pairwise sum would group the rows otherwise
    keys = [(row, int(k)) for row, k in enumerate(rng.integers(0, 3, 40))] + [(40, 9)]  # key 9 is in no group
    groups = Groups.of(keys, [2, 0, 1, 5])
    sums = groups.sums(np.vstack([values, [[1.0]]]))
    for g, key in enumerate([2, 0, 1, 5]):
        assert sums[g].tolist() == _sequential([values[r] for r, k in keys if k == key], 1).tolist()
    assert sums[3].tolist() == [0.0]


def test_in_order_is_one_after_the_other():
    rng = np.random.default_rng(3)
    stack = rng.random((30, 1)) * 1e6
    assert in_order(stack, (1,)).tolist() == _sequential(list(stack), 1).tolist()
    assert in_order(np.zeros((0, 4)), (4,)).tolist() == [0.0] * 4


def test_a_series_without_a_usable_pod_name_puts_the_metric_on_arm_totals_with_a_note():
    profile = load_query_profile("http")
    labels = [{"pod": "checkout-a-1"}, {"pod": "Not A Pod"}, {"pod": "checkout-b-1"}]
    parts = {key: [] for key in [(n, q, a) for n in ("error-rate",) for q in ("total", "events")
                                 for a in ("canary", "stable")]}
    parts[("error-rate", "total", "canary")] = [0, 1]
    parts[("error-rate", "total", "stable")] = [2]
    parts |= {("latency", "buckets", arm): [] for arm in ("canary", "stable")}
    layout = Layout.of(profile, labels, parts)
    assert layout.ratios["error-rate"].pods == {"canary": [""], "stable": [""]}
    assert layout.notes["error-rate"] == [
        "error-rate: a series has no usable 'pod' label; judged without the per-pod breakdown"
    ]
    assert layout.histograms["latency"] is None
