"""Grown arrays: a look appends in place after the steps written so far, and no view ever sees a step rewritten."""

import numpy as np
import pytest

from analyzer.judging.grown import grown


@pytest.mark.parametrize("axis", [0, -1])
def test_appending_after_the_written_steps_shares_the_buffer_and_keeps_old_views(axis):
    rng = np.random.default_rng(2)
    shape = (5, 3) if axis == 0 else (3, 5)
    first = grown(rng.random(shape), axis)
    old = first.array.copy()
    more = rng.random((2, 3) if axis == 0 else (3, 2))
    second = first.extend(5, more)
    assert second.buffer is first.buffer  # in place
    assert np.array_equal(second.array, np.concatenate([old, more], axis=axis))
    assert np.array_equal(first.array, old)
    revised = rng.random((3, 3))  # 3 steps of 3, either way
    third = second.extend(4, revised)  # the newest steps re-read: 4 kept of 7 written
    assert third.buffer is not second.buffer
    assert np.array_equal(second.array, np.concatenate([old, more], axis=axis))  # untouched
    kept = old[:4] if axis == 0 else old[:, :4]
    assert np.array_equal(third.array, np.concatenate([kept, revised], axis=axis))
    assert not third.array.flags.writeable and not first.array.flags.writeable


def test_a_buffer_grows_past_its_capacity():
    prefix = grown(np.zeros(0))
    for step in range(500):
        prefix = prefix.extend(step, np.array([float(step)]))
    assert np.array_equal(prefix.array, np.arange(500.0))
    with pytest.raises(ValueError):
        prefix.extend(501, np.zeros(1))
