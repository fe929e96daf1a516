"""Every allowed and forbidden transition of the candidate state machine, with its guard, as a table."""

from __future__ import annotations

import pytest

from analyzer.promotion import machine
from analyzer.promotion.stages import DEFAULT

J = "an incident needs the hotfix in production now"
CASES = [
    # state,            target, force, admin, justification, allowed, reason contains
    # (the second approver of a forced promotion is not a guard: the flow waits for an authenticated one)
    ("registered", "V1", False, False, None, True, "next stage"),
    ("registered", "V3", False, False, None, False, "skips V1"),
    ("registered", "V2", False, False, None, False, "skips V1, V3"),
    ("in:V1", "V3", False, False, None, False, "still being verified in V1"),
    ("qualified:V1", "V3", False, False, None, True, "next stage"),
    ("qualified:V1", "V1", False, False, None, False, "already qualified for V1"),
    ("qualified:V1", "V2", False, False, None, False, "skips V3"),
    ("qualified:V1", "V2", True, False, J, False, "needs an admin"),
    ("qualified:V1", "V2", True, True, "hotfix", False, "written justification"),
    ("qualified:V1", "V2", True, True, J, True, "forced: skips V3"),
    ("in:V3", "V2", False, False, None, False, "still being verified in V3"),
    ("qualified:V3", "V2", False, False, None, True, "next stage"),
    ("in:V2", "V2", False, False, None, False, "still being verified in V2"),
    ("stable", "V2", False, False, None, False, "already qualified for V2"),
    ("stable", "V1", True, True, J, False, "already qualified"),
    ("retired", "V1", False, False, None, False, "retired"),
    ("quarantined", "V1", False, False, None, False, "quarantined"),
    ("quarantined", "V2", True, True, J, False, "quarantined"),
]


@pytest.mark.parametrize(("state", "target", "force", "admin", "justification", "allowed", "reason"), CASES)
def test_entry_guard(state, target, force, admin, justification, allowed, reason):
    guard = machine.entry_guard(DEFAULT, state, target, force, admin, justification)
    assert guard.allowed is allowed
    assert reason in guard.reason


@pytest.mark.parametrize(
    ("stage", "verdict", "after"),
    [("V1", "pass", "qualified:V1"), ("V3", "pass", "qualified:V3"), ("V2", "pass", "stable"),
     ("V1", "fail", "quarantined"), ("V3", "fail", "quarantined"), ("V2", "fail", "quarantined"),
     ("V3", "inconclusive", None), ("V2", "error", None)],
)
def test_after_gate(stage, verdict, after):
    assert machine.after_gate(DEFAULT, stage, verdict) == after
