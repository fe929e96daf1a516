"""Grown arrays: a look appends in place after the steps written so far, and no view ever sees a step rewritten."""

import numpy as np
import pytest

from analyzer.judging.grown import grown


def _steps(rng, steps, axis):
    return rng.random((steps, 3) if axis == 0 else (3, steps))


@pytest.mark.parametrize("axis", [0, -1])
def test_appending_after_the_written_steps_shares_the_buffer_and_keeps_old_views(axis):
    rng = np.random.default_rng(2)
    chunks = [_steps(rng, 5, axis), _steps(rng, 2, axis), _steps(rng, 1, axis)]
    first = grown(chunks[0], axis)
    second = first.extend(5, chunks[1])  # moved to a buffer with room
    third = second.extend(7, chunks[2])
    assert third.buffer is second.buffer  # in place
    whole = np.concatenate(chunks, axis=axis)
    assert np.array_equal(third.array, whole)
    assert np.array_equal(second.array, np.concatenate(chunks[:2], axis=axis))
    assert np.array_equal(first.array, chunks[0])
    revised = _steps(rng, 3, axis)
    fourth = third.extend(6, revised)  # the newest steps re-read: 6 kept of 8 written
    assert fourth.buffer is not third.buffer
    assert np.array_equal(third.array, whole)  # untouched
    kept = whole[:6] if axis == 0 else whole[:, :6]
    assert np.array_equal(fourth.array, np.concatenate([kept, revised], axis=axis))
    assert not fourth.array.flags.writeable and not first.array.flags.writeable


def test_a_buffer_grows_past_its_capacity():
    prefix = grown(np.zeros(0))
    for step in range(500):
        prefix = prefix.extend(step, np.array([float(step)]))
    assert np.array_equal(prefix.array, np.arange(500.0))
    with pytest.raises(ValueError):
        prefix.extend(501, np.zeros(1))


def test_a_read_only_array_is_copied_before_the_buffer_is_written():
    rows = np.zeros((0, 3))
    rows.setflags(write=False)
    empty = grown(rows)
    assert np.array_equal(empty.extend(0, np.ones((2, 3))).array, np.ones((2, 3)))
    assert rows.shape == (0, 3)
