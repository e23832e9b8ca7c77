"""Warm starts from an earlier, related study: the cascade's ``warm_start`` against Optuna's ``add_trials``.

Protocol, per pair (``benchmarks/problems/llm_pairs.py``) and seed: the earlier study is 100 trials of the cascade on
the earlier landscape (``llm_family_<instance>``, seed ``s``); then the later landscape is tuned for 200 trials by

* ``cascade_warm``: ``CascadeSampler(warm_start=earlier_study)``;
* ``tpe_warm`` / ``gp_warm``: ``TPESampler()`` (Optuna 5 defaults: multivariate, constant liar) / ``GPSampler()``
  on a study given the earlier trials with ``study.add_trials`` (Optuna's way of reusing a study), so their
  models see the 100 earlier values as values of the new objective;
* ``cascade``, ``tpe``, ``gp``: the same samplers from a cold start.

Every sampler gets the same seed, the same earlier trials and the same noise (trial ``i`` of the later study draws the
noise seed ``s * 1_000_003 + 7 + i``). A row records the 200 later trials only (values, true values, the incumbent's
true value), as ``benchmarks/runner.py``'s rows do, in ``results/warm_start/<pair>/<sampler>.jsonl.gz``. The report
(``REPORT.md``, ``summary.json``) gives each sampler's median regret after 10, 25, 50, 100 and 200 trials, paired
Wilcoxon tests by seed (warm against cold, the cascade's warm start against TPE's and GP's), and the trials each
warm start needs to reach each cold sampler's median value at 200 trials (bootstrap 95% intervals).

    python -m benchmarks.warm_start run [--seeds 20] [--samplers ...] [--pairs ...] [--workers 2]
    python -m benchmarks.warm_start report
    python -m benchmarks.warm_start run --quick --results DIR   # 2 seeds x 30 trials, no GPSampler (the tests)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from concurrent.futures import as_completed
from concurrent.futures import ProcessPoolExecutor
import json
from pathlib import Path
import platform
import sys
import time
import warnings

import numpy as np
import optuna

from benchmarks import rows
from benchmarks.report import paired_test
from benchmarks.report import reach_figure
from benchmarks.runner import incumbents
from benchmarks.runner import init_worker
from benchmarks.runner import RESULTS_DIR


INSTANCE = 4  # llm_family_4: five families, 270 strategies, no trap (llm_family.py's table)
PAIRS = ("related", "misleading")
SAMPLERS = ("cascade_warm", "cascade", "tpe_warm", "tpe", "gp_warm", "gp")
EARLIER_TRIALS = 100
LATER_TRIALS = 200
CHECKPOINTS = (10, 25, 50, 100, 200)
SUITE = "warm_start"


def _sampler(name: str, seed: int, problem, earlier: optuna.Study | None) -> optuna.samplers.BaseSampler:
    from cascaderl_optuna import CascadeSampler

    if name == "cascade_warm":
        return CascadeSampler(seed=seed, strategic_params=problem.strategic_params, warm_start=earlier)
    if name == "cascade":
        return CascadeSampler(seed=seed, strategic_params=problem.strategic_params)
    if name.startswith("tpe"):
        return optuna.samplers.TPESampler(seed=seed)
    if name.startswith("gp"):
        return optuna.samplers.GPSampler(seed=seed)
    raise KeyError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")


def _tune(problem, sampler: optuna.samplers.BaseSampler, n_trials: int, noise_base: int, earlier=None) -> dict:
    """``n_trials`` ask/tell trials of ``problem``; with ``earlier``, its trials are added first (``add_trials``)."""
    study = optuna.create_study(sampler=sampler, direction="minimize")
    if earlier is not None:
        study.add_trials(earlier.trials)
    values, true_values = [], []
    start = time.perf_counter()
    for i in range(n_trials):
        trial = study.ask()
        ev = problem.evaluate(problem.suggest(trial), noise_seed=noise_base + i)
        study.tell(trial, ev.value)
        values.append(float(f"{ev.value:.7g}"))
        true_values.append(float(f"{ev.true_value:.7g}"))
    best, incumbent = incumbents(values, true_values, [True] * len(values))
    return {
        "values": values,
        "true_values": true_values,
        "best_so_far": best,
        "incumbent_true": incumbent,
        "wall_seconds": time.perf_counter() - start,
        "study": study,
    }


def run_seed(pair: str, seed: int, samplers: Sequence[str], n_earlier: int, n_later: int) -> list[dict]:
    """The earlier study of ``seed``, then one later study per sampler: one row each."""
    from benchmarks.problems.llm_family import LLMLandscapeProblem
    from benchmarks.problems.llm_pairs import LaterLandscape

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    earlier_problem = LLMLandscapeProblem(INSTANCE)
    later_problem = LaterLandscape(INSTANCE, pair)
    earlier = _tune(earlier_problem, _sampler("cascade", seed, earlier_problem, None), n_earlier, seed * 1_000_003)
    out = []
    for name in samplers:
        warm = name.endswith("_warm")
        given = earlier["study"] if warm and not name.startswith("cascade") else None
        sampler = _sampler(name, seed, later_problem, earlier["study"] if warm else None)
        result = _tune(later_problem, sampler, n_later, seed * 1_000_003 + 7, earlier=given)
        del result["study"]
        out.append(
            {
                "suite": SUITE,
                "problem": later_problem.name,
                "pair": pair,
                "sampler": name,
                "seed": seed,
                "n_trials": n_later,
                "n_earlier": n_earlier,
                "earlier_best_true": min(earlier["true_values"]),
                "optimum": later_problem.optimum(),
                "earlier_optimum": earlier_problem.optimum(),
                "optuna_version": optuna.__version__,
                "python": platform.python_version(),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **result,
            }
        )
    return out


def run(
    results: Path = RESULTS_DIR,
    *,
    pairs: Sequence[str] = PAIRS,
    samplers: Sequence[str] = SAMPLERS,
    n_seeds: int = 20,
    n_earlier: int = EARLIER_TRIALS,
    n_later: int = LATER_TRIALS,
    workers: int = 2,
    log=print,
) -> int:
    """The missing (pair, sampler, seed) rows; one task per (pair, seed) runs its earlier study once."""
    tasks = []
    for pair in pairs:
        for seed in range(n_seeds):
            missing = [
                s
                for s in samplers
                if seed
                not in {r["seed"] for r in rows.read(rows.path(results, SUITE, pair, s)) if r["n_trials"] >= n_later}
            ]
            if missing:
                tasks.append((pair, seed, tuple(missing)))
    log(f"warm start: {len(tasks)} (pair, seed) tasks on {workers} workers -> {results / SUITE}")
    with ProcessPoolExecutor(max(1, min(workers, len(tasks) or 1)), initializer=init_worker) as pool:
        futures = {
            pool.submit(run_seed, pair, seed, missing, n_earlier, n_later): (pair, seed)
            for pair, seed, missing in tasks
        }
        for i, fut in enumerate(as_completed(futures), 1):
            for row in fut.result():
                rows.append(rows.path(results, SUITE, row["pair"], row["sampler"]), row)
            pair, seed = futures[fut]
            log(f"[{i}/{len(tasks)}] {pair} seed {seed}")
    return len(tasks)


# ---------------------------------------------------------------------------------------------------------------
# The report.


def load(results: Path) -> dict[str, dict[str, list[dict]]]:
    """rows[pair][sampler], by seed."""
    out: dict[str, dict[str, list[dict]]] = {}
    for pair in PAIRS:
        for sampler in SAMPLERS:
            found = {r["seed"]: r for r in rows.read(rows.path(results, SUITE, pair, sampler))}
            if found:
                out.setdefault(pair, {})[sampler] = [found[s] for s in sorted(found)]
    return out


def _regret(rs: list[dict]) -> np.ndarray:
    n = min(len(r["incumbent_true"]) for r in rs)
    return np.array([np.array(r["incumbent_true"][:n]) - r["optimum"] for r in rs])


def summarise(data: dict[str, dict[str, list[dict]]]) -> dict:
    summary: dict = {}
    rng = np.random.default_rng(0)
    for pair, by_sampler in data.items():
        regrets = {s: _regret(rs) for s, rs in by_sampler.items()}
        n = min(r.shape[1] for r in regrets.values())
        checkpoints = [c for c in CHECKPOINTS if c <= n]
        entry: dict = {
            "n_seeds": {s: len(rs) for s, rs in by_sampler.items()},
            "median_regret": {s: {c: float(np.median(r[:, c - 1])) for c in checkpoints} for s, r in regrets.items()},
            "earlier_best_regret_on_earlier": float(
                np.median([r["earlier_best_true"] - r["earlier_optimum"] for r in next(iter(by_sampler.values()))])
            ),
            "comparisons": {},
            "reach": {},
        }
        comparisons = [("cascade_warm", "cascade"), ("tpe_warm", "tpe"), ("gp_warm", "gp")]
        comparisons += [("cascade_warm", "tpe_warm"), ("cascade_warm", "gp_warm"), ("cascade_warm", "gp")]
        for a, b in comparisons:
            if a in regrets and b in regrets:
                tests = {c: paired_test(by_sampler[a], by_sampler[b], regrets[a], regrets[b], c) for c in checkpoints}
                entry["comparisons"][f"{a} vs {b}"] = tests
        for warm in ("cascade_warm", "tpe_warm", "gp_warm"):
            for cold in ("cascade", "tpe", "gp"):
                if warm in regrets and cold in regrets:
                    entry["reach"][f"{warm} to {cold}"] = reach_figure(regrets[warm][:, :n], regrets[cold][:, :n], rng)
        summary[pair] = entry
    return summary


def _trials(x: float) -> str:
    return f"{x:.0f}" if np.isfinite(x) else "never"


def _fmt(x: float) -> str:
    return f"{x:.4f}" if abs(x) >= 1e-4 else f"{x:.1e}"


def markdown(summary: dict) -> str:
    lines = [
        "# Warm start from an earlier, related study",
        "",
        "Generated by `python -m benchmarks.warm_start report` from the rows in this folder; the protocol is in "
        "`benchmarks/warm_start.py`'s docstring (earlier study: the cascade, 100 trials on `llm_family_4`; later "
        "study: 200 trials on the pair's later landscape, `benchmarks/problems/llm_pairs.py`). Regret is the true "
        "value of the incumbent minus the later landscape's optimum (nats).",
        "",
        *pair_sections(summary, "##"),
    ]
    return "\n".join(lines)


def pair_sections(summary: dict, heading: str) -> list[str]:
    """Per pair: median regrets, paired tests, trials to reach the cold samplers' values (the report's body)."""
    lines: list[str] = []
    for pair, entry in summary.items():
        checkpoints = list(next(iter(entry["median_regret"].values())))
        lines += [f"{heading} {pair}", ""]
        lines.append(
            f"The earlier study's best reached a median regret of {_fmt(entry['earlier_best_regret_on_earlier'])} on "
            "its own landscape."
        )
        lines += ["", "Median regret (seeds):", ""]
        lines.append("| sampler | seeds | " + " | ".join(f"@{c}" for c in checkpoints) + " |")
        lines.append("|---|---|" + "---|" * len(checkpoints))
        for s, med in entry["median_regret"].items():
            lines.append(f"| {s} | {entry['n_seeds'][s]} | " + " | ".join(_fmt(med[c]) for c in checkpoints) + " |")
        lines += ["", "Paired by seed (wins/losses of the first at each checkpoint, Wilcoxon p):", ""]
        lines.append("| comparison | " + " | ".join(f"@{c}" for c in checkpoints) + " |")
        lines.append("|---|" + "---|" * len(checkpoints))
        for name, tests in entry["comparisons"].items():
            cells = [f"{t['win']}/{t['loss']} p={t['p']:.3g}" if t else "" for t in tests.values()]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "Trials the warm start needs to reach the cold sampler's median regret at its last trial:", ""]
        lines.append("| warm start | cold sampler | median trials [95% CI] | studies that reach it |")
        lines.append("|---|---|---|---|")
        for name, fig in entry["reach"].items():
            warm, cold = name.split(" to ")
            interval = f"{_trials(fig['median_trials'])} [{_trials(fig['ci_low'])}, {_trials(fig['ci_high'])}]"
            lines.append(f"| {warm} | {cold} | {interval} | {fig['share_reached']:.0%} |")
        lines.append("")
    return lines


def report(results: Path = RESULTS_DIR) -> Path:
    data = load(results)
    if not data:
        raise FileNotFoundError(f"no warm-start rows under {results / SUITE}; run python -m benchmarks.warm_start run")
    summary = summarise(data)
    out = results / SUITE / "report"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    (out / "REPORT.md").write_text(markdown(summary))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.warm_start", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run")
    run_p.add_argument("--seeds", type=int, default=20)
    run_p.add_argument("--pairs", nargs="+", choices=PAIRS, default=list(PAIRS))
    run_p.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    run_p.add_argument("--workers", type=int, default=2)
    run_p.add_argument("--results", type=Path, default=RESULTS_DIR)
    run_p.add_argument("--quick", action="store_true", help="2 seeds x 30 later trials (20 earlier), no GPSampler")
    rep_p = sub.add_parser("report")
    rep_p.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.quick:
            samplers = [s for s in args.samplers if not s.startswith("gp")]
            run(
                args.results,
                pairs=args.pairs,
                samplers=samplers,
                n_seeds=2,
                n_earlier=20,
                n_later=30,
                workers=args.workers,
            )
        else:
            run(args.results, pairs=args.pairs, samplers=args.samplers, n_seeds=args.seeds, workers=args.workers)
        return 0
    print(f"report written to {report(args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
