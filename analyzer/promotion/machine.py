"""The candidate state machine: which promotions are allowed, and what a gate verdict does.

States: ``registered``; per stage S, ``in:S`` (an attempt runs there) and ``qualified:S`` (its gate
passed); ``stable`` (qualified in the last stage and serving there); ``retired`` (a newer stable
replaced it); ``quarantined`` (terminal: a fix is a new candidate).

=====================================  ======================================================
transition                             guard
=====================================  ======================================================
registered → in:first                  not quarantined
qualified:S(i) → in:S(i+1)             the previous stage's gate passed
qualified:S(i) → in:S(j), j > i+1      refused, unless *forced*: admin and a written justification;
registered → in:S(j), j > 0            flagged in the audit, and (configurable) it waits until a second,
                                       different, authenticated identity confirms it (the flow's job)
in:S --gate pass--> qualified:S        (stable in the last stage; the previous stable → retired)
in:S --gate fail--> quarantined        qualifications revoked, queued attempts cancelled
any non-terminal --manual--> quarantined   a reason is required
quarantined → anything                 refused
=====================================  ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.promotion.stages import Pipeline

REGISTERED, STABLE, RETIRED, QUARANTINED = "registered", "stable", "retired", "quarantined"


def in_stage(stage: str) -> str:
    return f"in:{stage}"


def qualified(stage: str) -> str:
    return f"qualified:{stage}"


@dataclass(frozen=True)
class Guard:
    allowed: bool
    forced: bool
    reason: str


def _position(pipeline: Pipeline, state: str) -> tuple[str, int]:
    """('registered'|'in'|'qualified'|'stable'|…, stage index or -1)."""
    if ":" in state:
        kind, stage = state.split(":", 1)
        return kind, pipeline.index(stage)
    if state == STABLE:
        return "qualified", len(pipeline.stages) - 1
    return state, -1


def entry_guard(
    pipeline: Pipeline, state: str, target: str, force: bool, is_admin: bool, justification: str | None
) -> Guard:
    """May a candidate in ``state`` enter stage ``target``? Forced skips need an admin and a justification."""
    if state == QUARANTINED:
        return Guard(False, False, "the candidate is quarantined: a fix is a new candidate (register it with --fixes)")
    if state == RETIRED:
        return Guard(False, False, "the candidate was retired by a newer stable candidate")
    kind, at = _position(pipeline, state)
    j = pipeline.index(target)
    name = pipeline.stages[j].name
    if kind == "in":
        return Guard(False, False, f"the candidate is still being verified in {pipeline.stages[at].name}")
    reached = at if kind == "qualified" else -1
    if j <= reached:
        return Guard(False, False, f"the candidate already qualified for {pipeline.stages[reached].name}; "
                                   f"it cannot enter {name} again")
    if j == reached + 1:
        return Guard(True, False, "next stage")
    skipped = ", ".join(s.name for s in pipeline.stages[reached + 1 : j])
    if not force:
        return Guard(False, False, f"entering {name} skips {skipped}; only a forced promotion may")
    if not is_admin:
        return Guard(False, True, "a forced promotion needs an admin")
    if not justification or len(justification.strip()) < 10:
        return Guard(False, True, "a forced promotion needs a written justification (10 characters or more)")
    return Guard(True, True, f"forced: skips {skipped}")


def after_gate(pipeline: Pipeline, stage: str, verdict: str) -> str | None:
    """The candidate's next state after a gate verdict in ``stage`` (None: unchanged, wait or retry)."""
    if verdict == "pass":
        return STABLE if pipeline.index(stage) == len(pipeline.stages) - 1 else qualified(pipeline.stage(stage).name)
    if verdict == "fail":
        return QUARANTINED
    return None
