"""CPU a look costs in process, by kind of look and window length, and where it goes.

    python bench/look_cost.py [--looks 60] [--windows 30 360 1440] [--databases sqlite postgresql]

Argo's looks come in two kinds, and they cost differently:

* **a new step every look**: the AnalysisRun's ``interval`` equals the step (the usual template), so
  each look finds one new step: the fetch of its newest steps, the judge on one more step, a chunk of
  counts written;
* **repeated looks**: ``interval`` shorter than the step, a retry, several replicas or analyses of one
  window, the load bench's callers asking at once: a look finds the steps the last one judged, and
  gets its judgment again (:mod:`analyzer.service.repeats`).

One run backfills a real Prometheus (the load bench's canaries: 35 latency buckets, 2 canary and 3
stable pods, a sample every 15 s; windows of 30, 360 and 1,440 steps when the run starts, serving on for
``--looks`` more steps) and, for each database (SQLite; a real PostgreSQL), looks at each window in
process with a fixed clock, through ``analyse`` as the server calls it (no HTTP), for one Rollout step
(``step=1``, as the chart's templates pass ``status.currentStepIndex``): three first looks (the
full fetch, not counted), then ``--looks`` looks each a step later than the one before, then
``--looks`` looks at one instant. The window's length limit is raised so that a 1,440-step window grows
too (the default ``max_steps`` of 1,440 stops it: past it every look is a repeat). The periodic full
refresh (every ``window_cache_refresh_looks`` looks) falls inside the looks counted, so its cost is in
the figures, spread over them. Per kind and window: CPU ms per look (``time.process_time`` of this
process, which is the service's share; Prometheus' and PostgreSQL's are the load bench's to report),
and the parts timed at their function boundaries: fetch (query, decode, merge with the kept window; the
assembly into a measurement is reported apart), the input digest, the judge, and the store (counts and
judgment). Issue 15 asks a 360-step look to cost at most 1.5x a 30-step one, and a 1,440-step look 2x.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import analyzer.service.analysis as analysis  # noqa: E402
import analyzer.service.look_record as look_record  # noqa: E402
import analyzer.service.repeats as repeats  # noqa: E402
import analyzer.sources.prometheus as prometheus  # noqa: E402
from analyzer.settings import Settings  # noqa: E402
from bench.service_load import STEP, backfilled, target  # noqa: E402
from tests.support.postgres import postgres  # noqa: E402
from tests.support.prometheus import prometheus as prometheus_server  # noqa: E402

#: The parts of a look, each as the functions whose CPU it is (module, attribute).
PARTS: dict[str, list[tuple[Any, str]]] = {
    "fetch": [(prometheus.PrometheusSource, "fetch")],
    "assemble": [(prometheus, "assemble")],
    "digest": [(repeats, "measurement_digest")],
    "judge": [(analysis, "judge")],
    "store": [(look_record, name) for name in ("save_measurement", "chunks_held", "save_chunks", "save_judgment")],
}


@contextlib.contextmanager
def timed_parts() -> Iterator[collections.Counter[str]]:
    """CPU seconds spent in each part (nested parts are also in their parent: assemble in fetch)."""
    spent: collections.Counter[str] = collections.Counter()
    saved: list[tuple[Any, str, Any]] = []

    def timing(part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part] += time.process_time() - started

        return timed

    for part, functions in PARTS.items():
        for owner, name in functions:
            original = getattr(owner, name)
            saved.append((owner, name, original))
            setattr(owner, name, timing(part, original))
    try:
        yield spent
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def looks_of(database_url: str, prometheus_url: str, window: int, end: int, looks: int) -> dict[str, dict[str, float]]:
    """CPU ms per look and per part, for new-step looks and repeated looks of one window."""
    settings = Settings(prometheus_url=prometheus_url, database_url=database_url, lookback_seconds=10**6,
                        insecure_no_auth=True, max_steps=window + looks + 10)
    analyzer = analysis.connect(settings)
    now = [end + STEP / 2]
    analyzer.clock = lambda: now[0]
    for _ in range(3):  # the first look fetches the whole window; two more fill the memos
        analysis.analyse(analyzer, "http", target(window), step_index=1)
    figures: dict[str, dict[str, float]] = {}
    for kind, advance in (("new step", STEP), ("repeated", 0)):
        with timed_parts() as spent:
            started = time.process_time()
            for _ in range(looks):
                now[0] += advance
                analysis.analyse(analyzer, "http", target(window), step_index=1)
            total = time.process_time() - started
        figures[kind] = {"look": total / looks * 1e3, **{part: spent[part] / looks * 1e3 for part in PARTS}}
    analyzer.source.close()
    analyzer.database.dispose()
    return figures


def main(argv: list[str] | None = None) -> dict[tuple[str, str, int], dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--looks", type=int, default=60, help="looks of each kind per window")
    parser.add_argument("--windows", type=int, nargs="+", default=[30, 360, 1440])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="canary-analyzer-look-cost-"))
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    try:
        end = backfilled(args.windows, work, ahead=args.looks + 10)
        with contextlib.ExitStack() as stack:
            prom = stack.enter_context(prometheus_server(work))
            urls = {"sqlite": f"sqlite:///{work / 'ledger.db'}"}
            if "postgresql" in args.databases:
                urls["postgresql"] = stack.enter_context(postgres())
            print(f"CPU ms per look in process ({args.looks} looks of each kind; parts timed at their boundaries,"
                  " assemble inside fetch)")
            print(f"{'database':<12}{'kind':<10}{'window':>7}{'look':>8}" + "".join(f"{p:>10}" for p in PARTS))
            for database in args.databases:
                for window in args.windows:
                    for kind, row in looks_of(urls[database], prom, window, end, args.looks).items():
                        results[(database, kind, window)] = row
                        print(f"{database:<12}{kind:<10}{window:>7}{row['look']:>8.2f}"
                              + "".join(f"{row[p]:>10.2f}" for p in PARTS))
        shortest = min(args.windows)
        print(f"\nagainst the {shortest}-step look (issue 15: 360 steps <= 1.5x, 1,440 steps <= 2x)")
        for (database, kind, window), row in results.items():
            if window != shortest:
                base = results[(database, kind, shortest)]["look"]
                print(f"  {database}, {kind}, {window} steps: {row['look'] / base:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
