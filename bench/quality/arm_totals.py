"""What arm totals cannot show: the A/A price of binomial-world speed, side by side in one run.

    python -m bench.quality.arm_totals [--runs N] [--workers N]

On the acceptance grid's arm-total cells (bursty pod-minutes summed per arm, no per-pod breakdown) and
its binomial errors ×2 cells, three judges on the same simulated canaries (seeds as in the acceptance
grid): ours; ours with the arm-level dispersion of its ratio and latency comparisons held at 1 (every
minute assumed binomial: the what-if closest to the mixture SPRT's time to detect on binomial cells;
the SLO test keeps its own dispersion, and data with pods would keep the pod-minute one — these cells
have none); and the mixture SPRT. Prints the
false-fail rate (A/A cells) or median time to detect (errors ×2 cells) of each. docs/statistics.md,
"What arm totals cannot show", quotes it.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import numpy as np

import analyzer.judging.evidence as evidence
from bench.quality import grid
from bench.quality.__main__ import SEED_BASE
from bench.quality.acceptance import is_reference_cell
from bench.quality.judges import ours
from bench.quality.msprt import msprt
from bench.quality.run import simulated, true_quantile

JUDGES = ("ours", "ours, φ held at 1", "mixture SPRT")


@contextmanager
def binomial_minutes() -> Iterator[None]:
    """The judge with its arm-level dispersion replaced by 1 (within this process, for the block)."""
    namespace = vars(evidence)
    original = namespace["ratio_dispersion"]
    namespace["ratio_dispersion"] = lambda events, total, *_: np.ones(events.size)
    try:
        yield
    finally:
        namespace["ratio_dispersion"] = original


def _run(task: tuple[int, int]) -> tuple[int, tuple[int | None, int | None, int | None]]:
    """The first fail minute of each judge on one canary of cell ``index``."""
    index, seed = task
    cell = grid.acceptance()[index]
    canary = simulated(cell, seed, true_quantile(cell.scenario.latency))
    with binomial_minutes():
        binomial = ours(canary.measurement).fail
    return index, (ours(canary.measurement).fail, binomial, msprt(canary.msprt_pairs()).fail)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quality.arm_totals", description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    cells = grid.acceptance()
    indices = [i for i, c in enumerate(cells) if c.arm_totals or (is_reference_cell(c) and c.binomial)]
    tasks = [(i, SEED_BASE + 100_000 * i + r) for i in indices for r in range(args.runs)]
    fails: dict[int, list[tuple[int | None, ...]]] = {i: [] for i in indices}
    with ProcessPoolExecutor(args.workers) as pool:
        for index, result in pool.map(_run, tasks, chunksize=10):
            fails[index].append(result)
    print(f"| cell | {' | '.join(JUDGES)} |")
    print(f"| --- |{' --- |' * len(JUDGES)}")
    for i in indices:
        cell, runs = cells[i], fails[i]
        if cell.kind is grid.Kind.AA:
            figures = [f"{100 * sum(r[j] is not None for r in runs) / len(runs):.1f} % false fail"
                       for j in range(len(JUDGES))]
        else:
            figures = [f"{np.median([r[j] if r[j] is not None else math.inf for r in runs]):g} min to detect"
                       for j in range(len(JUDGES))]
        print(f"| {cell.name} ({len(runs)} runs) | {' | '.join(figures)} |")


if __name__ == "__main__":
    main()
