"""Argo's looks at a growing window judge the same with the judge's memo as from scratch (issue 15 item 2).

Each look is the window so far, its newest steps re-read with other counts (late samples: the last
step holds half its final counts, the one before three quarters), so consecutive looks share all but
their last few steps — what the memos (analyzer.judging.resumed's paths, analyzer.judging.kept_lists'
columns: arrays, list digests, repaired buckets) resume from. The service's looks are also judged: the
window cache joins the last look's steps (the same objects) to its re-read ones, fetches the whole
window anew now and then (every row a new object, equal counts), and a refresh may bring an old step
revised.
"""

from typing import Any

import pytest

from analyzer.judging import evidence, judge, kept_lists, resumed
from analyzer.model import Measurement, Policy
from analyzer.model.steps import joined, steps_between
from analyzer.sources.simulate import Scenario, simulate

#: Scale of the newest steps' counts at a look (powers of two apart, so that pods still sum to their arm).
LATE = (0.75, 0.5)


def _late(value: Any, steps: int, key: str = "") -> Any:
    """``value`` (a measurement's JSON) with the last steps of every per-step list scaled as samples arrive."""
    if isinstance(value, dict):
        return {k: _late(v, steps, k) for k, v in value.items()}
    if isinstance(value, list) and key != "le" and len(value) == steps:
        scaled = list(value)
        for back, factor in zip(range(len(LATE), 0, -1), LATE, strict=True):
            row = scaled[steps - back]
            scaled[steps - back] = [c * factor for c in row] if isinstance(row, list) else row * factor
        return scaled
    return value


def _looks(scenario: Scenario, first: int) -> list[Measurement]:
    whole = simulate(scenario, seed=11)
    return [
        Measurement.model_validate(_late(steps_between(whole, 0, k).model_dump(mode="json"), k))
        for k in range(first, scenario.steps + 1)
    ]


def _clear():
    """Every memo of the judge emptied: the next judgment is from scratch."""
    for memo in (resumed.PATHS, resumed.NULLS, kept_lists.ARRAYS):
        memo.clear()


#: Each scenario and the verdicts its looks reach (so that fail, pass and their bounds are all compared).
SCENARIOS = {
    "arm level, regression at step 20": Scenario(steps=36, rps=50, error_ratio=3.0, onset_step=20),
    "pods, healthy": Scenario(steps=36, rps=300, canary_share=0.3, canary_pods=2, stable_pods=3),
    "pods, slower canary from step 12": Scenario(
        steps=36, rps=50, canary_pods=2, stable_pods=3, latency_scale=1.6, onset_step=12
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_look_sequence_judges_the_same_with_the_memo_as_from_scratch(name):
    policy = Policy()
    looks = _looks(SCENARIOS[name], first=6)
    _clear()
    with_memo = [judge(look, policy, pass_from_step=15) for look in looks]
    from_scratch = []
    for look in looks:
        _clear()
        from_scratch.append(judge(look, policy, pass_from_step=15))
    for memo, scratch in zip(with_memo, from_scratch, strict=True):
        assert memo.input_digest == scratch.input_digest
        assert memo.model_dump_json() == scratch.model_dump_json()
    assert len({j.verdict for j in with_memo}) == 2  # inconclusive, then a fail or a pass


def _lookups(monkeypatch, memo) -> list[object]:
    """What ``memo`` found at each lookup while the healthy pod scenario's looks 20-36 were judged in turn."""
    found: list[object] = []
    longest = memo.longest
    monkeypatch.setattr(memo, "longest", lambda digests: found.append(longest(digests)) or found[-1])
    for look in _looks(SCENARIOS["pods, healthy"], first=20):
        judge(look, Policy())
    return found


def test_the_judge_resumes_its_looks_from_the_memo(monkeypatch):
    _clear()
    found = _lookups(monkeypatch, resumed.PATHS)
    # The error ratio's and the one latency bound's comparisons resume at every look after the first; the two
    # SLO tests do not while their limits move with the pods' variation over the whole window (a new key).
    assert sum(entry is not None for entry in found) == 2 * (36 - 20)


def test_the_fail_null_resumes_while_its_rounded_pod_sd_stays(monkeypatch):
    """The fail test's pod-term null (one log-sum-exp over the grid a step) is computed for the new steps
    only whenever the look's pod sd, rounded up to the 5 % lattice, is the last look's."""
    _clear()
    found = _lookups(monkeypatch, resumed.NULLS)
    assert found and sum(entry is not None for entry in found) >= len(found) // 3  # 14 of 34 here: s moves fast early


def test_the_pod_sd_is_rounded_up_to_its_lattice():
    assert evidence.quantised_sd(0.0) == 0.0
    for sd in (0.003, 0.05, 0.1, 0.2, 0.31):
        rounded = evidence.quantised_sd(sd)
        assert sd <= rounded < sd * 1.05 + 1e-15
        assert evidence.quantised_sd(rounded) == rounded  # a lattice point stays


def _parsed(measurement: Measurement) -> Measurement:
    return Measurement.model_validate(measurement.model_dump(mode="json"))


def _revised(measurement: Measurement, step: int) -> Measurement:
    """The measurement with one old step's counts revised (a backfill): +0.5 request, +0.5 in every bucket."""
    body = measurement.model_dump(mode="json")
    for metric in body["metrics"].values():
        if metric["kind"] == "ratio":
            metric["canary"]["total"][step] += 0.5
        else:
            metric["stable"][step] = [v + 0.5 for v in metric["stable"][step]]
    return Measurement.model_validate(body)


def _service_looks(scenario: Scenario, first: int, revise_at: int) -> list[Measurement]:
    """The looks as the service's window cache makes them: the last look's first steps joined to its newest 3
    and one new step parsed anew; every 8th look, and the look ``revise_at`` steps long, the whole window
    parsed anew — from that look on with step 4 revised."""
    whole = simulate(scenario, seed=11)
    looks: list[Measurement] = []
    for k in range(first, scenario.steps + 1):
        if k == revise_at:
            whole = _revised(whole, 4)
        if not looks or k % 8 == 0 or k == revise_at:
            looks.append(_parsed(steps_between(whole, 0, k)))
        else:
            looks.append(joined(steps_between(looks[-1], 0, k - 4), _parsed(steps_between(whole, k - 4, k))))
    return looks


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_services_looks_judge_the_same_with_the_memo_as_from_scratch(name):
    policy = Policy()
    looks = _service_looks(SCENARIOS[name], first=6, revise_at=27)
    _clear()
    with_memo = [judge(look, policy, pass_from_step=15) for look in looks]
    for look, memo in zip(looks, with_memo, strict=True):
        _clear()
        assert memo.model_dump_json() == judge(look, policy, pass_from_step=15).model_dump_json()


def test_the_services_looks_resume_and_a_revised_old_step_does_not(monkeypatch):
    _clear()
    found: list[object] = []
    longest = resumed.PATHS.longest
    monkeypatch.setattr(resumed.PATHS, "longest", lambda digests: found.append(longest(digests)) or found[-1])
    looks = _service_looks(SCENARIOS["pods, healthy"], first=20, revise_at=30)
    steps = []
    for look in looks:
        before = len(found)
        judge(look, Policy())
        steps.append({entry.steps if entry is not None else None for entry in found[before:]})
    # The error ratio's and the latency bound's comparisons resume every look but the first (a refresh
    # included: equal counts in new objects) and the one that brought step 4 revised.
    revised = [look.metrics["latency"].steps for look in looks].index(30)
    assert all(n is None for n in steps[revised]) and all(n is None for n in steps[0])
    assert all(any(n is not None for n in s) for i, s in enumerate(steps) if i not in (0, revised))
