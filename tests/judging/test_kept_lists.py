"""Kept lists: a look's arrays equal np.asarray of its lists, whatever the last look kept."""

import numpy as np
import pytest

from analyzer.judging import kept_lists
from analyzer.judging.kept_lists import Kept, KeptLists, common_prefix, steps_array


@pytest.fixture(autouse=True)
def _empty():
    kept_lists.ARRAYS.clear()
    yield
    kept_lists.ARRAYS.clear()


def test_growing_lists_with_late_values_convert_as_asarray_does():
    rng = np.random.default_rng(1)
    rows = [list(map(float, rng.poisson(5.0, 4))) for _ in range(60)]
    counts = [float(v) for v in rng.poisson(50.0, 60)]
    for k in range(61):
        look_rows, look_counts = [list(r) for r in rows[:k]], counts[:k]  # new objects, equal values
        if k > 2:
            look_rows[-1] = [v / 2 for v in look_rows[-1]]  # the newest step still filling
            look_counts = [*look_counts[:-2], look_counts[-2] + 1.0, look_counts[-1]]
        got_rows, got_counts = steps_array("rows", look_rows, 4), steps_array("counts", look_counts)
        assert np.array_equal(got_rows, np.asarray(look_rows, dtype=np.float64).reshape(k, 4))
        assert np.array_equal(got_counts, np.asarray(look_counts, dtype=np.float64))
        assert not got_rows.flags.writeable and not got_counts.flags.writeable


def test_the_longest_equal_prefix_is_taken_over():
    kept = Kept(values=[1.0, 2.0, 3.0, 4.0, 5.0], derived=None)
    assert common_prefix([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], kept) == 5
    assert common_prefix([1.0, 2.0, 3.0, 9.0, 9.0, 9.0], kept) == 3
    assert common_prefix([1.0, 2.0], kept) == 2
    assert common_prefix([7.0, 2.0, 3.0, 4.0, 5.0], kept) == 0
    assert common_prefix([1.0], None) == 0


def test_kept_lists_stay_within_their_bound():
    memo: KeptLists[int] = KeptLists(1000)
    for i in range(20):
        memo.put(i, Kept([float(i)], i), 300)
        assert memo.held_bytes <= 1000
    assert memo.get(19) is not None and memo.get(0) is None
    memo.put("big", Kept([], 0), 5000)
    assert memo.get("big") is None and memo.held_bytes <= 1000
