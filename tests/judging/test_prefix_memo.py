"""The prefix memo: digests of prefixes, the longest known prefix, and its memory bound."""

import numpy as np

from analyzer.judging.prefix_memo import PrefixMemo, kept_lengths, lookup_lengths, prefix_digests


def test_a_prefix_digest_depends_on_that_prefix_only():
    a, b = np.arange(10.0), np.arange(10.0) * 2
    longer = prefix_digests((np.append(a, 99.0), np.append(b, 7.0)), b"x", range(1, 12))
    digests = prefix_digests((a, b), b"x", range(1, 11))
    assert all(digests[n] == longer[n] for n in range(1, 11)) and longer[11] not in digests.values()
    assert prefix_digests((a, b), b"y", range(10, 11))[10] != digests[10]  # the salt names the computation
    assert prefix_digests((b, a), b"x", range(10, 11))[10] != digests[10]


def test_the_longest_known_prefix_answers():
    memo: PrefixMemo[str] = PrefixMemo()
    data = (np.arange(20.0),)
    memo.put(prefix_digests(data, b"", kept_lengths(12)), "look at 12", 10)
    changed = (np.concatenate([np.arange(10.0), [-1.0, -2.0, -3.0]]),)  # steps 11-13 re-read with new values
    found = memo.longest(prefix_digests(changed, b"", lookup_lengths(13)))
    assert found is not None and (found.state, found.steps) == ("look at 12", 10)
    assert memo.longest(prefix_digests((-np.arange(13.0),), b"", lookup_lengths(13))) is None


def test_memory_stays_within_its_bound():
    memo: PrefixMemo[int] = PrefixMemo(max_bytes=1000, max_states=5)
    for i in range(50):
        memo.put(prefix_digests((np.full(3, float(i)),), b"", range(1, 4)), i, 150)
        assert memo.held_bytes <= 1000 and len(memo._states) <= 5
    newest = memo.longest(prefix_digests((np.full(3, 49.0),), b"", range(1, 4)))
    assert newest is not None and newest.state == 49
    assert memo.longest(prefix_digests((np.full(3, 0.0),), b"", range(1, 4))) is None  # evicted
    memo.put({}, -1, 2000)  # larger than the whole memory: not kept
    assert memo.held_bytes <= 1000


def _resumed_from(memo: PrefixMemo[int], data: tuple[np.ndarray, ...], keys) -> int | None:
    """The steps the state a resume of ``data`` started from covers (None: from scratch)."""
    started: list[int | None] = []

    def compute(known):
        started.append(None if known is None else known.steps)
        return int(data[0].size), 8

    memo.resume(data, b"salt", compute, keys)
    return started[0]


def test_a_state_found_by_its_lists_keys_is_used_only_as_far_as_its_inputs_are_the_same():
    def keys(salt, lengths):  # names every prefix alike, as a key that does not cover an input would
        return {n: salt + bytes([n]) for n in lengths}

    memo: PrefixMemo[int] = PrefixMemo()
    look = (np.arange(12.0), np.ones(12))
    assert _resumed_from(memo, look, keys) is None
    assert _resumed_from(memo, (np.arange(13.0), np.ones(13)), keys) == 12  # one more step: resumed
    other = (np.arange(14.0), np.ones(14))
    other[1][3] = 2.0  # an input the keys do not see changed at step 3
    assert _resumed_from(memo, other, keys) is None
    assert _resumed_from(memo, (np.arange(15.0), np.ones(15)), keys) is None  # the state kept is other's
    assert _resumed_from(memo, (np.arange(16.0), np.ones(16)), keys) == 15
    negative = (np.arange(17.0), np.ones(17))
    negative[0][0] = -0.0  # the same number, other bits: not taken for the same input
    assert _resumed_from(memo, negative, keys) is None
