"""Report pages of recorded judgments: keep each window's counts at every look, and draw a judgment's page.

The hot path only writes: the look saves :func:`stored_measurement` (with its judgment, in one
transaction), the window's latest look with the
chunks of counts from its first new or changed step on (one window's counts, not a copy per look, and
not the whole window again at each look: :mod:`analyzer.store.measurements`). Everything else happens
when someone opens a page: the judgment's own look is the first ``steps`` steps of its window's stored
counts, checked against the judgment's input digest, and the evidence over looks is recomputed from it
(:mod:`analyzer.report.looks`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analyzer.config import load_policy
from analyzer.judging.digest import digest_matches
from analyzer.model import Judgment, Measurement, Policy
from analyzer.model.steps import from_chunks, steps_between
from analyzer.report.html import ReportContext, render_html
from analyzer.service.offline import JudgeName, run_judge
from analyzer.service.windows import Recent
from analyzer.sources.file import load_measurement
from analyzer.store import Database, JudgmentRecord, WindowKey
from analyzer.store.judgments import JudgmentFilter, get_judgment, list_judgments
from analyzer.store.measurements import CHUNK_STEPS, StoredMeasurement, get_measurement, save_measurement


def keep_measurement(database: Database, stored: StoredMeasurement) -> None:
    """Store a window's measurement (kept only if no longer one is stored), in a session of its own."""
    with database.session() as session:
        save_measurement(session, stored)
        session.commit()


def chunks_from(first: int, steps: int) -> range:
    """The chunks that hold steps ``first`` to ``steps - 1`` (none from the window's end on)."""
    return range(first // CHUNK_STEPS, -(-steps // CHUNK_STEPS)) if first < steps else range(0)


def measurement_steps(measurement: Measurement) -> int:
    """The steps a measurement covers (its metrics all cover the same ones; 0 without a metric)."""
    return max((m.steps for m in measurement.metrics.values()), default=0)


def chunk_counts(measurement: Measurement, chunks: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Each of ``chunks`` (their indices) as the JSON of its steps of ``measurement``."""
    return {
        chunk: steps_between(measurement, chunk * CHUNK_STEPS, (chunk + 1) * CHUNK_STEPS).model_dump(mode="json")
        for chunk in chunks
    }


def stored_measurement(
    key: WindowKey,
    window_start: int,
    measurement: Measurement,
    policy: Policy,
    unavailable: dict[str, str],
    now: datetime,
    chunks: Iterable[int],
    digest: str,
) -> StoredMeasurement:
    """The row :func:`keep_measurement` saves (a look saves it in its own deadline-bounded session), with the
    ``chunks`` (their indices) of its counts; ``digest``: the measurement's input digest
    (:func:`~analyzer.judging.digest.measurement_digest`), which the chunks name as their source."""
    return StoredMeasurement(
        key=key,
        window_start=window_start,
        steps=measurement_steps(measurement),
        updated_at=now,
        chunks=chunk_counts(measurement, chunks),
        policy=policy.model_dump(mode="json"),
        unavailable=unavailable,
        source_digest=digest,
    )


class StoredSteps:
    """How many of each window's first steps this process has stored exactly as its last look built them.

    A look fetches, then lowers that to the first step its measurement may differ from the process's last
    look (:attr:`~analyzer.sources.assemble.Fetched.fresh_from`) and stores from there; only a store that
    succeeds raises it to the look's steps. A look that fails in between (the store down, the deadline
    passed, an error) leaves it low, so the next look writes what this one did not. Bounded: the least
    recently used windows are forgotten (their next look stores all their steps again)."""

    def __init__(self, max_windows: int = 4096) -> None:
        self._steps: Recent[tuple[WindowKey, int], int] = Recent(max_windows)

    def lowered(self, key: WindowKey, start: int, fresh_from: int) -> int:
        """The first step a look that just fetched must store (call right after the fetch)."""
        lowered = self._steps.update((key, start), lambda held: min(held or 0, fresh_from))
        return lowered or 0

    def stored(self, key: WindowKey, start: int, changed_from: int, steps: int) -> None:
        """A look that stored from ``changed_from`` on succeeded: ``steps`` are stored, unless another look of
        the window lowered it meanwhile."""
        self._steps.update((key, start), lambda held: steps if held == changed_from else None)


@dataclass(frozen=True)
class Report:
    """What a judgment's page is drawn from."""

    record: JudgmentRecord
    judgment: Judgment
    measurement: Measurement | None
    policy: Policy | None
    context: ReportContext


def _look_of(stored: StoredMeasurement, judgment: Judgment) -> tuple[Measurement | None, list[str]]:
    """The judgment's own look: the first ``steps`` steps of the window's stored counts."""
    try:
        look = from_chunks(stored.chunks, CHUNK_STEPS, min(judgment.steps, stored.steps))
    except ValueError:
        return None, ["the stored counts of this window are incomplete; the page has no plots"]
    if digest_matches(look, judgment.input_digest):
        return look, []
    return look, [
        "the stored counts of these steps differ from what this look judged (Prometheus revised them since);"
        " the plots show the stored counts"
    ]


def load_report(database: Database, judgment_id: str) -> Report | None:
    """The recorded judgment ``judgment_id`` with its window's counts and policy, or None if unknown."""
    with database.session() as session:
        record = get_judgment(session, judgment_id)
        if record is None:
            return None
        stored = get_measurement(session, record.key, record.window_start) if record.window_start else None
    judgment = Judgment.model_validate(record.body)
    measurement, notes = _look_of(stored, judgment) if stored and judgment.steps else (None, [])
    context = ReportContext(
        title=f"{record.key.namespace}/{record.key.rollout}",
        judgment_id=record.id,
        created_at=record.created_at,
        namespace=record.key.namespace,
        rollout=record.key.rollout,
        profile=record.key.profile,
        canary=record.key.canary_hash,
        stable=record.key.stable_hash,
        window_start=record.window_start,
        window_end=record.window_end,
        notes=notes,
        unavailable=stored.unavailable if stored else {},
    )
    policy = Policy.model_validate(stored.policy) if stored else None
    return Report(record, judgment, measurement, policy, context)


def latest_report_id(database: Database, namespace: str, rollout: str, canary: str) -> str | None:
    """The id of the newest judgment of this canary, if any."""
    where = JudgmentFilter(namespace=namespace, rollout=rollout, canary_hash=canary, limit=1)
    with database.session() as session:
        found = list_judgments(session, where)
    return found[0].id if found else None


def render_report(report: Report) -> str:
    """The report's self-contained HTML page."""
    return render_html(report.judgment, report.measurement, report.policy, report.context)


def judge_file_page(path: str, profile: str | None, judge_name: JudgeName = JudgeName.OURS) -> tuple[Judgment, str]:
    """Judge a measurement file (``-`` for stdin, read once) and draw its report page."""
    policy = load_policy(profile)
    measurement = load_measurement(path)
    judgment = run_judge(measurement, policy, judge_name)
    title = "canary judgment" if path == "-" else path
    return judgment, render_html(judgment, measurement, policy, ReportContext(title=title))
