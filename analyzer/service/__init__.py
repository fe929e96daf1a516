"""Use cases that combine the pieces: judge a file, replay a simulation, analyse a live canary, export."""

from analyzer.service.offline import (
    JudgeName,
    Look,
    Regression,
    demo_looks,
    demo_scenario,
    judge_file,
    replay,
    run_judge,
)

__all__ = ["JudgeName", "Look", "Regression", "demo_looks", "demo_scenario", "judge_file", "replay", "run_judge"]
