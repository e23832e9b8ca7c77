"""Runs (problem, sampler, seed) studies in a process pool and appends one row per finished study.

Results live in ``<results>/<suite>/<problem>/<sampler>.jsonl.gz`` (the format is :mod:`benchmarks.rows`'s). A run
is resumable: a (problem, sampler, seed) whose row is already there (with at least the requested number of trials)
is skipped, so an interrupted suite continues where it stopped, and the cascade's rows can be added to committed
baseline rows later.

A cell of one suite that asks for the very studies another suite already holds (:data:`SHARED_CELLS`) keeps no
copy: its rows are read from the other suite's folder (the seeds the suite asks for), and a study missing there is
run into that folder. Every reader goes through :func:`cell_rows` and :func:`suite_rows`, which know this.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import as_completed
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
import heapq
import os
from pathlib import Path
import platform
import sys
import time
import traceback
import warnings

import numpy as np
import optuna

from benchmarks import rows
from benchmarks.problems import make_problem
from benchmarks.problems import Problem
from benchmarks.samplers import make_sampler
from benchmarks.samplers import sampler_state
from benchmarks.suites import Entry
from benchmarks.suites import SUITES


RESULTS_DIR = Path(__file__).resolve().parent / "results"
MAX_WORKERS = 2
# (suite, sampler) -> the suite whose folder holds that cell's rows: the same seeded studies (same problem, sampler,
# seeds and trial budget, and every sampler is seeded), committed once.
# - ablation: the full cascade and independent TPE are the full suite's studies; the ablation suite reads its 10
#   seeds of the full suite's 20.
# - parallel: random search never reads the history, so with 4 simulated workers it draws the trials it draws with
#   one, value for value (test_simulated_workers_keep_k_minus_one_trials_running); only the seconds differ.
SHARED_CELLS: dict[tuple[str, str], str] = {
    ("ablation", "cascade"): "full",
    ("ablation", "tpe_independent"): "full",
    ("parallel", "random"): "full",
}


@dataclass(frozen=True)
class Task:
    suite: str
    problem: str
    sampler: str
    seed: int
    n_trials: int
    n_workers: int = 1
    duration_sigma: float = 0.0


def cascade_available() -> bool:
    try:
        import cascaderl_optuna
    except ImportError:
        return False
    return hasattr(cascaderl_optuna, "CascadeSampler")


def _entry(suite: str, problem: str, sampler: str) -> Entry | None:
    return next((e for e in SUITES.get(suite, ()) if e.problem == problem and sampler in e.samplers), None)


def _own_rows_exist(results: Path, suite: str, problem: str, sampler: str) -> bool:
    return any(rows.existing(rows.path(results, suite, problem, sampler, error=error)) for error in (False, True))


def home_suite(results: Path, suite: str, problem: str, sampler: str) -> str:
    """The suite whose folder holds the cell's rows: ``suite`` itself unless the cell is shared
    (:data:`SHARED_CELLS`) and its own folder holds no rows of it (a tree committed before the cell was shared does)."""
    source = SHARED_CELLS.get((suite, sampler))
    if source is None or _own_rows_exist(results, suite, problem, sampler):
        return suite
    return source


def cell_rows(results: Path, suite: str, problem: str, sampler: str, *, error: bool = False) -> list[dict]:
    """The rows of one cell in file order (``error``: the studies in which the sampler raised), wherever they live."""
    home = home_suite(results, suite, problem, sampler)
    found = rows.read(rows.path(results, home, problem, sampler, error=error))
    entry = _entry(suite, problem, sampler)
    if home == suite or entry is None:
        return found
    return [r for r in found if r["seed"] < entry.n_seeds]  # the seeds this suite asks for


def suite_rows(results: Path, suite: str, problems=None) -> dict[tuple[str, str, bool], list[dict]]:
    """``(problem, sampler, error) -> rows`` of every cell of ``suite`` that holds rows, its shared cells included,
    in the order of the cells' file names (the order in which reports meet them)."""
    keys = {(problem, sampler, error) for problem, sampler, error, _ in rows.cells(Path(results) / suite)}
    keys |= {
        (e.problem, sampler, error)
        for e in SUITES.get(suite, ())
        for sampler in e.samplers
        if (suite, sampler) in SHARED_CELLS
        for error in (False, True)
    }
    out = {}
    for problem, sampler, error in sorted(keys, key=lambda k: f"{k[0]}/{rows.file_name(k[1], error=k[2])}"):
        if problems is not None and problem not in problems:
            continue
        found = cell_rows(results, suite, problem, sampler, error=error)
        if found:
            out[problem, sampler, error] = found
    return out


def plan(
    suite: str, results: Path, *, problems=None, samplers=None, n_seeds=None, n_trials=None, retry_failed: bool = False
) -> list[Task]:
    """The tasks of ``suite`` not yet in ``results``, after the optional filters and overrides.

    A study that raised is recorded and not run again (its crash is deterministic) unless ``retry_failed``. The
    tasks of a shared cell (:data:`SHARED_CELLS`) are the holding suite's, and their rows go to its folder.
    """
    tasks = []
    for e in SUITES[suite]:
        if problems and e.problem not in problems:
            continue
        for sampler in e.samplers:
            if samplers and sampler not in samplers:
                continue
            home = home_suite(results, suite, e.problem, sampler)
            source = _entry(home, e.problem, sampler) if home != suite else None
            run_as = source or e  # a shared cell's missing study is the holding suite's study
            trials = n_trials or run_as.n_trials
            found = rows.read(rows.path(results, home, e.problem, sampler))
            if not retry_failed:
                found += rows.read(rows.path(results, home, e.problem, sampler, error=True))
            done = {r["seed"] for r in found if r["n_trials"] >= trials}
            tasks += [
                Task(home, e.problem, sampler, seed, trials, run_as.n_workers, run_as.duration_sigma)
                for seed in range(n_seeds or e.n_seeds)
                if seed not in done
            ]
    return tasks


_PROBLEMS: dict[str, Problem] = {}  # one instance per worker process (a YAHPO worker, a loaded table, ...)


def run_study(task: Task, on_study: Callable[[optuna.Study], None] | None = None) -> dict:
    """One study: ask, suggest, evaluate, tell; the sampler's share of the time is measured around the objective.

    With ``n_workers`` > 1 the study simulates that many asynchronous workers of equal speed through ask/tell:
    ``n_workers`` trials are asked before the first is told, and from then on the oldest running trial is told
    before the next is asked, so every suggestion is made while ``n_workers - 1`` trials are RUNNING, exactly what
    a sampler sees from several processes sharing one storage. The trials are recorded in the order they finish.
    With ``duration_sigma`` > 0 each trial lasts a log-normal time (median 1, that sigma; drawn from the seed and
    the trial number, so every sampler gets the same durations in the same order) on a simulated clock: the trial
    that finishes first is told first and its worker asks the next, so results arrive out of order. With equal
    durations that order is the oldest first, as above.
    ``on_study`` is called with the finished study (``benchmarks.high_level_allocation`` reads its strategies).

    A problem with the optional ``family`` member (see ``benchmarks/problems/base.py``) has each trial's family
    recorded too (``"families"``, in the order of ``values``), and its ``family_minima`` beside ``optimum``; the
    rows of other problems carry neither key.

    A constrained problem (one with ``constraints(params) -> {name: value}``, feasible when every value is <= 0)
    has its values stored with ``trial.set_constraint`` before the trial is told (Optuna 5's way: TPESampler,
    GPSampler and the cascade all read ``trial.constraints``; random search ignores them), each trial's
    feasibility recorded (``"feasible"``), and the incumbent is the best *feasible* trial (``study.best_trial``'s
    rule). Until the first feasible trial the incumbent is the worst value of the study so far (no answer yet is no
    better than that).
    """
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    problem = _PROBLEMS.get(task.problem) or _PROBLEMS.setdefault(task.problem, make_problem(task.problem))
    sampler = make_sampler(task.sampler, task.seed, problem)
    study = optuna.create_study(sampler=sampler, direction="minimize")
    family = getattr(problem, "family", None)  # optional (benchmarks/problems/base.py)
    constraints = getattr(problem, "constraints", None)  # optional: a constrained problem
    values, true_values, sampler_s, families, feasible = [], [], [], [], []
    objective_s = 0.0
    start = time.perf_counter()
    error = None
    # (finish time, ask index, trial, evaluation, sampler seconds, family), the next to finish first
    running: list[tuple] = []
    durations = np.random.default_rng([task.seed, 7_919]).lognormal(0.0, task.duration_sigma, task.n_trials)
    clock = 0.0  # simulated: when the last told trial finished, so when its worker asks the next
    asked = 0
    while len(values) < task.n_trials:
        if asked < task.n_trials and len(running) < task.n_workers:
            t0 = time.perf_counter()
            try:
                trial = study.ask()
                params = problem.suggest(trial)
            except Exception:  # the sampler failed: recorded with the trials it completed
                error = traceback.format_exc()
                break
            t1 = time.perf_counter()
            ev = problem.evaluate(params, noise_seed=task.seed * 1_000_003 + trial.number)
            objective_s += time.perf_counter() - t1
            fam = family(params) if family is not None else None
            fits = True
            if constraints is not None:
                for name, value in constraints(params).items():
                    trial.set_constraint(name, value)
                    fits = fits and value <= 0.0
            heapq.heappush(running, (clock + float(durations[asked]), asked, trial, ev, t1 - t0, fam, fits))
            asked += 1
            continue
        clock, _, trial, ev, spent, trial_family, fits = heapq.heappop(running)
        t2 = time.perf_counter()
        study.tell(trial, ev.value)
        t3 = time.perf_counter()
        values.append(_sig(ev.value, 7))
        true_values.append(_sig(ev.true_value, 7))
        sampler_s.append(_sig(spent + (t3 - t2), 3))
        families.append(trial_family)
        feasible.append(fits)
    wall = time.perf_counter() - start
    best_so_far, incumbent_true = incumbents(values, true_values, feasible)
    row = {
        "suite": task.suite,
        "problem": task.problem,
        "sampler": task.sampler,
        "seed": task.seed,
        "n_trials": task.n_trials,
        "n_workers": task.n_workers,
        "duration_sigma": task.duration_sigma,
        "optuna_version": optuna.__version__,
        "python": platform.python_version(),
        "sampler_state": sampler_state(sampler, study),
        "optimum": problem.optimum(),
        "values": values,
        "true_values": true_values,
        "best_so_far": best_so_far,
        "incumbent_true": incumbent_true,
        "sampler_seconds": sampler_s,
        "objective_seconds_total": objective_s,
        "wall_seconds": wall,
        "best_params": study.best_params if any(feasible) else None,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if constraints is not None:
        row["feasible"] = feasible
    if family is not None:
        row["families"] = families
        if hasattr(problem, "family_minima"):
            row["family_minima"] = problem.family_minima()
    if error:
        row.update(error=error.strip().splitlines()[-1], traceback=error, trials_completed=len(values))
    if on_study is not None:  # a diagnostic that reads more of the study than the row keeps
        on_study(study)
    return row


def incumbents(values: list[float], true_values: list[float], feasible: list[bool]) -> tuple[list, list]:
    """Best observed value so far, and the true value of the trial that holds it, after each trial.

    Only feasible trials can hold it; before the first one, the worst observed value so far stands in (true value
    alike), as an unconstrained study's first trial does.
    """
    best_so_far: list[float] = []
    incumbent_true: list[float] = []
    holder: tuple[float, float] | None = None
    worst: tuple[float, float] | None = None
    for v, tv, fits in zip(values, true_values, feasible):
        if fits and (holder is None or v < holder[0]):
            holder = (v, tv)
        if worst is None or v > worst[0]:
            worst = (v, tv)
        current = holder or worst
        best_so_far.append(current[0])
        incumbent_true.append(current[1])
    return best_so_far, incumbent_true


def _sig(x: float, digits: int) -> float:
    """``x`` to ``digits`` significant digits: keeps the committed rows small."""
    return float(f"{x:.{digits}g}")


def init_worker() -> None:
    """One core per worker: keep BLAS/OpenMP and torch from spawning threads that compete with the other worker."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    if "torch" in sys.modules:  # imported before the fork; otherwise it reads OMP_NUM_THREADS when imported
        sys.modules["torch"].set_num_threads(1)


def _run_task(task: Task) -> tuple[Task, dict | None, str | None]:
    try:
        return task, run_study(task), None
    except Exception:  # reported by the parent; the other studies go on
        return task, None, traceback.format_exc()


def run(suite: str, results: Path = RESULTS_DIR, *, workers: int = MAX_WORKERS, log=print, **filters) -> int:
    """Run the missing studies of ``suite``; return the number of studies the harness could not run.

    A study in which the *sampler* raised is a result (recorded in ``<sampler>.errors.jsonl.gz``), not a failure.
    """
    tasks = plan(suite, results, **filters)
    if any(t.sampler == "cascade" for t in tasks) and not cascade_available():
        log("cascade: cascaderl_optuna.CascadeSampler is not importable yet; its studies are skipped")
        tasks = [t for t in tasks if t.sampler != "cascade"]
    log(
        f"optuna {optuna.__version__}; suite {suite!r}: {len(tasks)} studies to run on "
        f"{min(workers, MAX_WORKERS)} workers -> {results / suite}"
    )
    failures = 0
    # Cheap studies first would leave the GP studies to one worker at the end; start the slowest ones first.
    tasks.sort(key=lambda t: (t.sampler != "gp", t.problem != "mlp_digits"))
    with ProcessPoolExecutor(max(1, min(workers, MAX_WORKERS, len(tasks))), initializer=init_worker) as pool:
        futures = [pool.submit(_run_task, t) for t in tasks]
        for i, fut in enumerate(as_completed(futures), 1):
            task, row, error = fut.result()
            if error:
                failures += 1
                log(f"[{i}/{len(tasks)}] FAILED {task}:\n{error}")
                continue
            rows.append(rows.path(results, task.suite, task.problem, task.sampler, error="error" in row), row)
            if "error" in row:  # a result about the sampler, not a failure of the harness
                log(
                    f"[{i}/{len(tasks)}] {task.problem} {task.sampler} seed {task.seed}: the sampler raised after "
                    f"{row['trials_completed']} trials: {row['error']}"
                )
            else:
                log(
                    f"[{i}/{len(tasks)}] {task.problem} {task.sampler} seed {task.seed}: "
                    f"best {row['best_so_far'][-1]:.6g} in {row['wall_seconds']:.1f} s"
                )
    return failures


def workers_default() -> int:
    return min(MAX_WORKERS, os.cpu_count() or 1)
