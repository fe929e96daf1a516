"""python -m bench.quality [--quick | --full | --acceptance] [--cells REGEX] [--runs-aa N] [--runs-ab N] [--workers N]
[--out docs]

``--cells`` runs only the grid's cells whose name matches, with the seeds they have in the whole grid
(so their figures equal the whole run's), and writes ``…-subset`` files beside the others."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.quality import grid
from bench.quality.report import acceptance_lines, headline, plots, write_csv, write_markdown
from bench.quality.run import Record, run_cell, summarise

CHUNK = 25
SEED_BASE = 20261122  # recorded: run r of cell i uses seed SEED_BASE + 100_000 * i + r


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a sample of the grid (default)")
    mode.add_argument("--full", action="store_true", help="the whole grid (hours)")
    mode.add_argument("--acceptance", action="store_true", help="exactly issue 11's acceptance cells")
    parser.add_argument("--runs-aa", type=int, help="runs per A/A cell (quick 200, acceptance 500, full 2000)")
    parser.add_argument("--runs-ab", type=int, help="runs per other cell (quick 100, acceptance 200, full 500)")
    parser.add_argument("--cells", type=re.compile, help="only the cells whose name matches this regular expression")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where benchmarks.md, the CSV and plots go")
    args = parser.parse_args()
    name = "full" if args.full else "acceptance" if args.acceptance else "quick"
    cells = {"full": grid.full, "acceptance": grid.acceptance, "quick": grid.quick}[name]()
    runs_aa = args.runs_aa or {"full": 2000, "acceptance": 500, "quick": 200}[name]
    runs_ab = args.runs_ab or {"full": 500, "acceptance": 200, "quick": 100}[name]
    indices = [i for i, cell in enumerate(cells) if args.cells is None or args.cells.search(cell.name)]
    if not indices:
        parser.error(f"--cells {args.cells.pattern!r} matches none of the {name} grid's cells")
    tasks = []
    for i in indices:  # seeds by the cell's place in the whole grid
        runs = runs_aa if cells[i].kind is grid.Kind.AA else runs_ab
        first = SEED_BASE + 100_000 * i
        tasks += [(i, range(s, min(s + CHUNK, first + runs))) for s in range(first, first + runs, CHUNK)]
    records: dict[int, list[Record]] = {i: [] for i in indices}
    started = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress, ProcessPoolExecutor(args.workers) as pool:
        bar = progress.add_task(f"{name}: {len(cells)} cells", total=len(tasks))
        futures = {pool.submit(run_cell, cells[i], seeds): i for i, seeds in tasks}
        for future in as_completed(futures):
            records[futures[future]] += future.result()
            progress.advance(bar)
    seconds = time.monotonic() - started
    cells = [cells[i] for i in indices]
    summaries = [s for i, cell in zip(indices, cells, strict=True) for s in summarise(cell, records[i])]
    if args.cells is not None:
        name += "-subset"
    write_csv(args.out / f"benchmarks-{name}.csv", summaries)
    images = plots(cells, summaries, args.out / "img", name)
    command = "python -m bench.quality " + " ".join(sys.argv[1:])
    markdown = args.out / ("benchmarks.md" if name in ("quick", "full") else f"benchmarks-{name}.md")
    write_markdown(markdown, cells, summaries, name, command.strip(), seconds, images)
    print(f"{len(cells)} cells, {sum(len(r) for r in records.values())} judge runs in {seconds:.0f} s; see {markdown}")
    print("\n".join(["Summary", *headline(cells, summaries), "", "Acceptance (issue 11)",
                     *acceptance_lines(cells, summaries)]))


if __name__ == "__main__":
    main()
