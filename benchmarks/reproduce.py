"""Does this machine reproduce the committed results, and what would the whole suite cost here from scratch?

``python -m benchmarks reproduce --suite full --seeds 2`` re-runs seeds ``0 .. k-1`` of every (problem, sampler)
cell of the suite into a scratch folder and compares every trial's value with the committed row of the same seed:
every sampler is seeded, so they must be identical (a difference means another package version, another machine's
arithmetic, or a changed sampler). It also times that sample, run the way the suite runs (one study per worker
process, all workers busy): each cell's mean seconds per study times its number of seeds is the suite's cost from
scratch on this machine. The committed rows' ``wall_seconds`` cannot tell that: many of them were run while other
jobs shared the two cores, and read up to three times slower than a quiet run.

Writes ``<results>/<suite>/reproduction.json`` and exits with status 1 if any value differs.
"""

from __future__ import annotations

from collections import defaultdict
import json
import os
from pathlib import Path
import platform
import shutil
import tempfile
import time

import optuna

from benchmarks import runner
from benchmarks.suites import SUITES


def _rows_by_seed(results: Path, suite: str, problem: str, sampler: str) -> dict[int, tuple[bool, dict]]:
    """seed -> (the study raised, row), from the finished and the error rows."""
    out = {}
    for error in (False, True):
        for row in runner.cell_rows(results, suite, problem, sampler, error=error):
            out[row["seed"]] = (error, row)
    return out


def reproduce(suite: str, results: Path, *, n_seeds: int, workers: int, scratch: Path | None = None, log=print) -> dict:
    """Re-run ``n_seeds`` seeds of every cell of ``suite``, compare with ``results``, estimate the suite's cost."""
    entries = SUITES[suite]
    fewest = min(e.n_seeds for e in entries)
    if not 1 <= n_seeds <= fewest:
        raise ValueError(
            f"--seeds must be between 1 and {fewest} (the fewest seeds of any cell of suite {suite!r}), got {n_seeds}"
        )
    own_scratch = scratch is None
    scratch = Path(tempfile.mkdtemp(prefix="benchmarks-reproduce-")) if own_scratch else scratch
    try:
        start = time.perf_counter()
        failures = runner.run(suite, scratch, workers=workers, n_seeds=n_seeds, log=log)
        sample_wall = time.perf_counter() - start
        compared, identical, differences, not_committed = 0, 0, [], []
        cells = []
        for e in entries:
            for sampler in e.samplers:
                new = _rows_by_seed(scratch, suite, e.problem, sampler)
                old = _rows_by_seed(results, suite, e.problem, sampler)
                for seed, (raised, row) in sorted(new.items()):
                    if seed not in old:
                        not_committed.append(f"{e.problem}/{sampler}/seed {seed}")
                        continue
                    compared += 1
                    old_raised, old_row = old[seed]
                    if raised == old_raised and row["values"] == old_row["values"]:
                        identical += 1
                    else:
                        first = next(
                            (i for i, (a, b) in enumerate(zip(row["values"], old_row["values"])) if a != b),
                            min(len(row["values"]), len(old_row["values"])),
                        )
                        differences.append(f"{e.problem}/{sampler}/seed {seed}: first differs at trial {first}")
                seconds = [row["wall_seconds"] for _, row in new.values()]
                if seconds:
                    per_study = sum(seconds) / len(seconds)
                    cells.append(
                        {
                            "problem": e.problem,
                            "sampler": sampler,
                            "n_seeds": e.n_seeds,
                            "n_trials": e.n_trials,
                            "mean_study_seconds": round(per_study, 1),
                            "estimated_seconds": round(per_study * e.n_seeds, 1),
                        }
                    )
        core_seconds = sum(c["estimated_seconds"] for c in cells)
        n_workers = min(workers, runner.MAX_WORKERS)
        by_sampler: dict[str, float] = defaultdict(float)
        for c in cells:
            by_sampler[c["sampler"]] += c["estimated_seconds"]
        summary = {
            "suite": suite,
            "command": f"python -m benchmarks reproduce --suite {suite} --seeds {n_seeds} --workers {workers}",
            "seeds_rerun": n_seeds,
            "optuna_version": optuna.__version__,
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "harness_failures": failures,
            "studies_compared": compared,
            "studies_identical": identical,
            "differences": differences,
            "not_committed": not_committed,
            "sample_wall_seconds": round(sample_wall, 1),
            "estimated_suite_core_seconds": round(core_seconds),
            "estimated_suite_hours_on_workers": round(core_seconds / n_workers / 3600, 2),
            "workers": n_workers,
            "estimated_core_seconds_by_sampler": {
                k: round(v) for k, v in sorted(by_sampler.items(), key=lambda kv: -kv[1])
            },
            "cells": cells,
        }
    finally:
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    out = results / suite / "reproduction.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    log(
        f"{identical} of {compared} re-run studies identical to the committed rows"
        + (f"; DIFFERENT: {differences}" if differences else "")
        + (f"; not committed: {len(not_committed)}" if not_committed else "")
    )
    log(
        f"sample of {n_seeds} seed(s) per cell: {sample_wall:.0f} s on {n_workers} workers; the whole suite "
        f"from scratch: about {core_seconds:.0f} core-seconds = {summary['estimated_suite_hours_on_workers']} h "
        f"on {n_workers} workers -> {out}"
    )
    return summary
