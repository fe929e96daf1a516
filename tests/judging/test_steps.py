"""Windows per analysis step: pass evidence from the current step's start, fail evidence from the canary's."""

from __future__ import annotations

import analyzer
from analyzer.judging import judge
from analyzer.model import Policy, Verdict
from analyzer.sources.simulate import FINE_BUCKETS, Scenario, simulate

POLICY = Policy()


def _verdicts(scenario: Scenario, seed: int, step_start: int | None, looks: range) -> dict[int, Verdict]:
    m = simulate(scenario, seed)
    return {k: judge(m.head(k), POLICY, pass_from_step=step_start).verdict for k in looks}


def test_the_next_step_checks_its_own_traffic_before_passing():
    """Healthy all along, the 50 % step began at minute 15: no pass on the 20 % step's evidence alone."""
    healthy = Scenario(rps=200.0, canary_share=0.2, steps=30, buckets=FINE_BUCKETS)
    verdicts = _verdicts(healthy, 1, step_start=15, looks=range(16, 31))
    assert all(v is Verdict.INCONCLUSIVE for k, v in verdicts.items() if k < 15 + 5)  # min duration: 5 steps
    assert verdicts[30] is Verdict.PASS
    assert _verdicts(healthy, 1, step_start=None, looks=range(16, 17))[16] is Verdict.PASS  # the old window


def test_a_regression_that_starts_in_the_second_step_fails_there_and_never_passes():
    late = Scenario(rps=200.0, canary_share=0.2, steps=30, buckets=FINE_BUCKETS, error_ratio=3.0, onset_step=12)
    for seed in range(5):
        verdicts = _verdicts(late, 10 + seed, step_start=10, looks=range(11, 31))
        assert Verdict.PASS not in verdicts.values(), seed
        assert Verdict.FAIL in verdicts.values(), seed


def test_no_step_start_is_the_whole_window():
    m = simulate(Scenario(rps=100.0, canary_share=0.1, steps=20, buckets=FINE_BUCKETS), 3)
    assert judge(m, POLICY, pass_from_step=None) == judge(m, POLICY, pass_from_step=0) == analyzer.judge(m)


def test_a_step_that_began_at_the_last_step_has_nothing_to_pass_on():
    m = simulate(Scenario(rps=200.0, canary_share=0.2, steps=20, buckets=FINE_BUCKETS), 4)
    assert judge(m, POLICY).verdict is Verdict.PASS
    for start in (20, 25):
        result = judge(m, POLICY, pass_from_step=start)
        assert result.verdict is Verdict.INCONCLUSIVE
        assert any("no complete step since this analysis step began" in r for r in result.reasons)
