"""Where the high level spends a study's trials: the learned strategy policy against a uniform choice.

The ablation suite finds the full cascade level with ``cascade_uniform_high_level`` on every problem. This says why,
on the two LLM landscapes, whose every strategy's best reachable loss is known (:mod:`benchmarks.problems.llm`
minimises each of the 72 strategies numerically): it re-runs the ablation suite's studies of both samplers (seeded,
so they are the committed studies: every trial's value is checked against ``results/ablation``) and reads, for
each trial after the space-filling start, the gap between the best loss its strategy can reach and the best any
strategy can reach (a strategy's best: L-BFGS-B from 16 starts, or the best noise-free value any of these studies
observed on it if that is lower: a few starts can all stall on the flat loss beyond a divergence cliff). A high
level that stops paying for inferior strategies puts its trials on strategies with a small gap, more so as the
study goes on::

    python -m benchmarks.high_level_allocation      # about 5 minutes on two cores

writes ``results/ablation/high_level_allocation.json`` (per study) and ``high_level_allocation.md`` (medians over
seeds, paired sign tests).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
import json
from pathlib import Path

import numpy as np
import optuna

from benchmarks.problems import llm
from benchmarks.problems.llm import strategy_key
from benchmarks.report import sign_test
from benchmarks.runner import cell_rows
from benchmarks.runner import init_worker
from benchmarks.runner import RESULTS_DIR
from benchmarks.runner import run_study
from benchmarks.runner import Task


PROBLEMS = {"llm_strong": "strong", "llm_smooth": "smooth"}
SAMPLERS = ("cascade", "cascade_uniform_high_level")
N_SEEDS = 10  # the ablation suite's
N_TRIALS = 200
START = 10  # the cascade's space-filling start: no high-level decision before this trial
WINDOWS = ((START, 50), (50, 100), (100, 200))  # trial numbers [from, to)
GOOD_GAP = 0.02  # nats: "a good strategy" is within this of the best reachable loss


def strategy_minima(variant: str) -> dict[tuple, float]:
    """Best noise-free loss of each of the 72 strategies, by L-BFGS-B from 16 starts (the landscape's own
    minimisation, :func:`benchmarks.problems.llm.strategy_minima`, which its optimum and family minima use with 4)."""
    return llm.strategy_minima(variant, 16)


def strategy_gaps(variant: str, observed: list[tuple[tuple, float]]) -> dict[tuple, float]:
    """Each strategy's best reachable loss minus the best of all (nats); ``observed``: (strategy, noise-free value)
    of real trials, which bound a strategy's best from above."""
    best = dict(strategy_minima(variant))
    for key, value in observed:
        best[key] = min(best[key], value)
    low = min(best.values())
    return {k: v - low for k, v in best.items()}


def allocation(gaps_of_trials: list[float]) -> dict:
    """Per window of trial numbers: the share of trials on a good strategy and the median strategy gap."""
    out = {}
    for lo, hi in WINDOWS:
        window = np.asarray(gaps_of_trials[lo:hi], dtype=float)
        out[f"{lo}-{hi}"] = {"good_share": float(np.mean(window <= GOOD_GAP)), "median_gap": float(np.median(window))}
    return out


def _study(task: Task) -> dict:
    strategies: list[tuple] = []

    def read(study: optuna.Study) -> None:
        strategies.extend(strategy_key(t.params) for t in study.trials)

    row = run_study(task, on_study=read)
    return {
        "problem": task.problem,
        "sampler": task.sampler,
        "seed": task.seed,
        "values": row["values"],
        "true_values": row["true_values"],
        "strategies": strategies,
        "incumbent_strategy": strategy_key(row["best_params"]),
        "final_true": row["incumbent_true"][-1],
    }


def add_allocation(studies: list[dict]) -> None:
    """Each study's per-trial strategy gaps, incumbent's gap and allocation per window (gaps from every study of
    the same problem)."""
    for problem, variant in PROBLEMS.items():
        mine = [s for s in studies if s["problem"] == problem]
        gaps = strategy_gaps(variant, [(tuple(k), v) for s in mine for k, v in zip(s["strategies"], s["true_values"])])
        for s in mine:
            trial_gaps = [gaps[tuple(k)] for k in s["strategies"]]
            s["strategy_gaps"] = [round(g, 6) for g in trial_gaps]
            s["incumbent_gap"] = gaps[tuple(s["incumbent_strategy"])]
            s["allocation"] = allocation(trial_gaps)
            s["n_good"] = sum(g <= GOOD_GAP for g in gaps.values())


def _table(studies: list[dict], metric: str, fmt: str, higher_is_better: bool) -> list[str]:
    lines = [
        "| problem | sampler | " + " | ".join(f"trials {lo}-{hi - 1}" for lo, hi in WINDOWS) + " |",
        "|" + "---|" * (len(WINDOWS) + 2),
    ]
    for problem in PROBLEMS:
        by = {s: {r["seed"]: r for r in studies if r["problem"] == problem and r["sampler"] == s} for s in SAMPLERS}
        seeds = sorted(set(by[SAMPLERS[0]]) & set(by[SAMPLERS[1]]))
        for sampler in SAMPLERS:
            cells = []
            for lo, hi in WINDOWS:
                w = f"{lo}-{hi}"
                cell = format(float(np.median([r["allocation"][w][metric] for r in by[sampler].values()])), fmt)
                if sampler == SAMPLERS[0]:
                    d = [
                        by[SAMPLERS[0]][s]["allocation"][w][metric] - by[SAMPLERS[1]][s]["allocation"][w][metric]
                        for s in seeds
                    ]
                    better = sum(x > 0 if higher_is_better else x < 0 for x in d)
                    worse = sum(x < 0 if higher_is_better else x > 0 for x in d)
                    cell += f" ({better}/{worse}, p = {sign_test(better, worse):.2g})"
                cells.append(cell)
            lines.append(f"| {problem} | {sampler} | " + " | ".join(cells) + " |")
    return lines


def markdown(studies: list[dict]) -> str:
    lines = [
        "# Where the high level spends its trials (LLM landscapes, the ablation suite's studies)",
        "",
        "Written by `python -m benchmarks.high_level_allocation`. A strategy's gap: the best noise-free loss it can "
        "reach minus the best any strategy can reach (nats). Medians over seeds; in brackets, the seeds where "
        "the learned high level (`cascade`) does better / worse than the uniform choice with the same seed "
        "(two-sided sign test).",
        "",
        f"Share of trials on a good strategy (gap at most {GOOD_GAP} nats; "
        + ", ".join(
            f"{p}: {next(r['n_good'] for r in studies if r['problem'] == p)} of 72 strategies" for p in PROBLEMS
        )
        + "):",
        "",
    ]
    lines += _table(studies, "good_share", ".0%", higher_is_better=True)
    lines += ["", "Median strategy gap of the trials (nats):", ""]
    lines += _table(studies, "median_gap", ".3f", higher_is_better=False)
    lines += ["", "The incumbent's strategy gap at the last trial, per seed:", ""]
    for problem in PROBLEMS:
        for sampler in SAMPLERS:
            gaps = sorted(
                round(r["incumbent_gap"], 3) for r in studies if r["problem"] == problem and r["sampler"] == sampler
            )
            lines.append(f"- {problem}, {sampler}: {gaps}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.high_level_allocation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--seeds", type=int, default=N_SEEDS)
    parser.add_argument("--trials", type=int, default=N_TRIALS, help="as many as the ablation rows hold")
    args = parser.parse_args(argv)
    tasks = [
        Task("ablation", p, s, seed, args.trials) for p in PROBLEMS for s in SAMPLERS for seed in range(args.seeds)
    ]
    with ProcessPoolExecutor(2, initializer=init_worker) as pool:  # one thread per worker, as the suites run
        studies = list(pool.map(_study, tasks))
    add_allocation(studies)
    for study in studies:  # the studies re-run must be the committed ones, or this explains other studies
        committed = {r["seed"]: r for r in cell_rows(args.results, "ablation", study["problem"], study["sampler"])}
        row = committed.get(study["seed"])
        if row is None or row["values"] != study["values"]:
            raise SystemExit(
                f"{study['problem']} {study['sampler']} seed {study['seed']}: the re-run differs from "
                "the committed ablation row; re-run the ablation suite first"
            )
    out = args.results / "ablation"
    (out / "high_level_allocation.json").write_text(
        json.dumps([{k: v for k, v in s.items() if k not in ("values", "true_values", "strategies")} for s in studies])
        + "\n"
    )
    (out / "high_level_allocation.md").write_text(markdown(studies))
    print(markdown(studies))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
