"""Turns the rows of a suite into the report: curves, tables and tests, written by one command.

Normalised regret of a study after ``t`` trials is ``(f(incumbent) - f*) / (median_random - f*)``: ``f(incumbent)``
is the noise-free value of the trial with the best observed value so far, ``f*`` the problem's known optimum (or,
where nobody knows it, the best noise-free value any study of the suite reached: marked "best observed"), and
``median_random`` the median value of a random configuration (all trials of the random sampler's studies). So 0 is
the optimum and 1 is a typical random configuration, on every problem. Where ``f*`` is the best observed value,
adding a sampler that beats it rescales that problem's regrets.

Outputs, under ``<results>/<suite>/report/``: ``REPORT.md`` (all tables), ``curves.html`` (plotly),
``curves.png`` (matplotlib; plotly's PNG export needs kaleido, which needs a Chrome download and does not install
offline), and ``summary.json`` (the tables' numbers, for the README). ``REPORT.md`` and ``summary.json`` are
committed (tests check that the committed rows still make them); the two figures are not (``results/.gitignore``):
they hold nothing the rows do not, weigh megabytes, and this command rebuilds them.
"""

from __future__ import annotations

from collections import defaultdict
import json
import math
from pathlib import Path
import zlib

import numpy as np
from scipy.stats import binomtest
from scipy.stats import wilcoxon

from benchmarks.runner import cell_rows
from benchmarks.runner import RESULTS_DIR
from benchmarks.runner import suite_rows
from benchmarks.samplers import BASELINES
from benchmarks.samplers import TPE_VARIANTS


CHECKPOINTS = (10, 25, 50, 100, 200)
"""The trial counts every suite is reported at: from 10, the budgets fine-tuning users run, to 200."""
CHALLENGER = "cascade"
CHALLENGERS = {"pretraining": "cascade_pretrained"}  # a suite about a variant of the cascade challenges with it
BOOTSTRAP = 2000
HAND = " [hand-conditioned]"
ONE_WORKER = " [1 worker]"
# A suite whose report sets the same samplers' rows of another suite beside its own: the 4-worker suite is read
# against the 1-worker studies of the full suite (same problems, seeds and trial budget).
REFERENCE_SUITES = {"parallel": "full", "uneven_4": "full", "uneven_8": "full"}
# A suite that runs only a new variant and borrows every other sampler's rows, unchanged, from another suite.
BORROWING_SUITES = {"pretraining": "full"}


# ---------------------------------------------------------------------------------------------------------------
# Loading and normalising.


def load_suite(results: Path, suite: str) -> dict[str, dict[str, list[dict]]]:
    """rows[problem][sampler], with each hand-conditioned twin folded into its reference problem."""
    rows: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for (problem, sampler, error), found in suite_rows(results, suite).items():
        if error:
            continue
        reference = _reference_problem(problem)
        label = sampler + HAND if reference != problem else sampler
        by_seed = {r["seed"]: r for r in found}  # a re-run seed replaces the older row
        rows[reference][label] += [by_seed[s] for s in sorted(by_seed)]
    if suite in BORROWING_SUITES:
        for problem, by_sampler in list(rows.items()):
            for (_, sampler, error), found in suite_rows(results, BORROWING_SUITES[suite], problems={problem}).items():
                if error or sampler in by_sampler:
                    continue
                by_seed = {r["seed"]: r for r in found}
                by_sampler[sampler] = [by_seed[s] for s in sorted(by_seed)]
    if suite in REFERENCE_SUITES:
        for problem, by_sampler in list(rows.items()):
            for sampler in list(by_sampler):
                by_seed = {r["seed"]: r for r in cell_rows(results, REFERENCE_SUITES[suite], problem, sampler)}
                if by_seed:
                    by_sampler[sampler + ONE_WORKER] = [by_seed[s] for s in sorted(by_seed)]
    return {p: dict(s) for p, s in rows.items()}


def _reference_problem(problem: str) -> str:
    """A hand-conditioned twin is registered as ``<reference>_hand`` (see ``benchmarks/problems/__init__.py``)."""
    return problem.removesuffix("_hand")


def load_errors(results: Path, suite: str) -> dict[str, dict[str, list[dict]]]:
    """errors[problem][sampler]: the studies in which the sampler raised."""
    errors: dict[str, dict[str, list[dict]]] = defaultdict(dict)
    for (problem, sampler, error), found in suite_rows(results, suite).items():
        if error:
            errors[problem][sampler] = found
    return dict(errors)


def regret_curves(problem_rows: dict[str, list[dict]]) -> tuple[dict[str, np.ndarray], dict]:
    """Normalised regret [seeds x trials] per sampler, and how it was normalised."""
    all_rows = [r for rs in problem_rows.values() for r in rs]
    known = {r["optimum"] for r in all_rows if r["optimum"] is not None}
    best_seen = min(min(r["true_values"]) for r in all_rows)
    optimum = min(known) if known else best_seen
    random_values = [v for r in problem_rows.get("random", []) for v in r["true_values"]]
    source = "random sampler" if random_values else "first trials"
    random_values = random_values or [r["true_values"][0] for r in all_rows]
    scale = float(np.median(random_values)) - optimum
    scale = scale if scale > 0 else 1.0
    curves = {}
    for sampler, rs in problem_rows.items():
        n = min(len(r["incumbent_true"]) for r in rs)
        curves[sampler] = (np.array([r["incumbent_true"][:n] for r in rs]) - optimum) / scale
    info = {
        "optimum": optimum,
        "optimum_source": "known" if known else "best observed",
        "median_random": optimum + scale,
        "scale_source": source,
        "best_observed": best_seen,
    }
    return curves, info


# ---------------------------------------------------------------------------------------------------------------
# Statistics.


def trials_to_reach(incumbents: np.ndarray, target: float) -> np.ndarray:
    """1-based trial at which each study's incumbent first reaches ``target`` (inf where it never does)."""
    hit = incumbents <= target
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1.0, np.inf)


def reach_figure(challenger: np.ndarray, baseline: np.ndarray, rng: np.random.Generator) -> dict:
    """Trials the challenger needs to reach the baseline's median final value, with a bootstrap 95% interval.

    Both sets of seeds are resampled: the baseline's to redraw the target, the challenger's to redraw the median.
    """
    target = float(np.median(baseline[:, -1]))
    reach = trials_to_reach(challenger, target)
    boot = np.empty(BOOTSTRAP)
    for b in range(BOOTSTRAP):
        t = np.median(baseline[rng.integers(len(baseline), size=len(baseline)), -1])
        boot[b] = np.median(trials_to_reach(challenger[rng.integers(len(challenger), size=len(challenger))], t))
    return {
        "target": target,
        "median_trials": float(np.median(reach)),
        "share_reached": float(np.isfinite(reach).mean()),
        "ci_low": float(np.quantile(boot, 0.025, method="inverted_cdf")),  # order statistics: inf-safe
        "ci_high": float(np.quantile(boot, 0.975, method="inverted_cdf")),
        "budget": int(challenger.shape[1]),
    }


def paired_test(
    challenger_rows: list[dict],
    baseline_rows: list[dict],
    curves_c: np.ndarray,
    curves_b: np.ndarray,
    at: int,
    tol: float = 1e-9,
) -> dict | None:
    """Win/tie/loss of the challenger over seeds both ran, and a two-sided paired Wilcoxon signed-rank test."""
    seeds_c = {r["seed"]: i for i, r in enumerate(challenger_rows)}
    pairs = [(seeds_c[r["seed"]], j) for j, r in enumerate(baseline_rows) if r["seed"] in seeds_c]
    if not pairs or at > min(curves_c.shape[1], curves_b.shape[1]):
        return None
    diff = np.array([curves_c[i, at - 1] - curves_b[j, at - 1] for i, j in pairs])
    wins, losses = int((diff < -tol).sum()), int((diff > tol).sum())
    return {
        "at": at,
        "n": len(pairs),
        "win": wins,
        "tie": len(pairs) - wins - losses,
        "loss": losses,
        "p": paired_wilcoxon(diff, tol),
        "median_diff": float(np.median(diff)),
    }


def paired_wilcoxon(diff: np.ndarray, tol: float = 1e-9) -> float:
    """Two-sided Wilcoxon signed-rank p of paired differences (ties split between the signs); 1.0 when all tie."""
    return float(wilcoxon(diff, zero_method="zsplit").pvalue) if np.any(np.abs(diff) > tol) else 1.0


def sign_test(wins: int, losses: int) -> float:
    """Two-sided sign test of paired wins against losses (ties left out); 1.0 when every pair tied."""
    return float(binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0


def problem_family(problem: str) -> str:
    """The family a problem belongs to: the first word of its name (``mixint``, ``yahpo``, ``synthetic``, ...)."""
    return problem.split("_")[0]


TIMING_WINDOWS = {"at_100": (81, 120), "at_1000": (951, 1000)}  # trials, 1-based, inclusive


def timing_table(results: Path) -> dict[str, dict]:
    """Sampler seconds per trial around trial 100 and trial 1,000 from the timing suite.

    Each study's figure is its mean over trials 81-120 and 951-1,000: windows long enough to hold whole refit cycles
    of the cascade (every 10 trials at 100, every ~50 at 1,000), so its periodic re-fits are paid in full. The table
    gives the median over the studies (seeds) of each sampler, which damps the run-to-run noise of a shared machine.
    """
    per_sampler: dict[str, list[dict]] = defaultdict(list)
    for found in suite_rows(results, "timing").values():  # the errors' rows too: a sampler that raised says so
        for row in found:
            s = np.array(row["sampler_seconds"])
            study = {
                "problem": row["problem"],
                "n_trials": row.get("trials_completed", row["n_trials"]),
                "error": row.get("error"),
            }
            for key, (first, last) in TIMING_WINDOWS.items():
                study[key] = float(s[first - 1 : last].mean()) if len(s) >= last else None
            per_sampler[row["sampler"]].append(study)
    out = {}
    for sampler, studies in per_sampler.items():
        entry = {
            "problem": studies[0]["problem"],
            "studies": len(studies),
            "n_trials": min(st["n_trials"] for st in studies),
            "error": next((st["error"] for st in studies if st["error"]), None),
        }
        for key in TIMING_WINDOWS:
            values = [st[key] for st in studies if st[key] is not None]
            entry[key] = float(np.median(values)) if values else None
        out[sampler] = entry
    return out


def cost_table(problems: dict[str, dict[str, list[dict]]]) -> dict[str, dict]:
    """Per sampler: studies, summed study seconds and the sampler's share of them, over the whole suite."""
    out: dict[str, dict] = defaultdict(lambda: {"studies": 0, "study_seconds": 0.0, "sampler_seconds": 0.0})
    for problem_rows in problems.values():
        for sampler, rs in problem_rows.items():
            out[sampler]["studies"] += len(rs)
            out[sampler]["study_seconds"] += sum(r["wall_seconds"] for r in rs)
            out[sampler]["sampler_seconds"] += sum(sum(r["sampler_seconds"]) for r in rs)
    return dict(out)


# ---------------------------------------------------------------------------------------------------------------
# Early commitment: does a sampler stop trying the best strategy family before it has tuned it?

COMMITMENT_WINDOW = 50  # a study's commitment is read from its last trials


def recorded_family_minima(problem_rows: dict[str, list[dict]]) -> dict[str, float]:
    """The problem's best noise-free value per family as its rows recorded it (``"family_minima"``; the least per
    family where rows disagree, as :func:`regret_curves` takes the least known optimum); {} where none did."""
    out: dict[str, float] = {}
    for rs in problem_rows.values():
        for r in rs:
            for family, value in (r.get("family_minima") or {}).items():
                out[family] = min(out.get(family, math.inf), value)
    return out


def best_and_runner_up(minima: dict[str, float]) -> tuple[str, str]:
    """The family with the lowest minimum and the one with the next lowest (ties broken by name)."""
    best, runner_up = sorted(minima, key=lambda f: (minima[f], f))[:2]
    return best, runner_up


def study_commitment(row: dict, best: str, runner_up_minimum: float, window: int = COMMITMENT_WINDOW) -> dict:
    """One study's commitment to the ``best`` family.

    ``best_share``: the share of its last ``window`` trials on the best family (``committed`` if above half);
    ``first_tuned``: the 1-based trial of its first *tuned* best-family trial, one whose noise-free value is below
    ``runner_up_minimum`` (no trial of any other family gets there: the first evidence that the best family is the
    better one), inf if none; ``in_best_basin``: the incumbent's noise-free value ends below ``runner_up_minimum``.
    A row without ``"families"`` (written before they were recorded) gives ``in_best_basin`` only.
    """
    out: dict = {"recorded": "families" in row, "in_best_basin": row["incumbent_true"][-1] < runner_up_minimum}
    if not out["recorded"]:
        return out
    families, last = row["families"], row["families"][-window:]
    share = sum(f == best for f in last) / len(last)
    tuned = (i for i, (f, v) in enumerate(zip(families, row["true_values"]), 1) if f == best and v < runner_up_minimum)
    out.update(best_share=share, committed=share > 0.5, first_tuned=float(next(tuned, math.inf)), trials=len(families))
    return out


def early_commitment(problem_rows: dict[str, list[dict]], window: int = COMMITMENT_WINDOW) -> dict | None:
    """Per sampler, over its studies of one problem: the share committed to the best family, the trial of the first
    tuned best-family trial (median, range, share that never got one) and the share ending in the best family's
    basin (see :func:`study_commitment`). None where no row records both its families and the family minima."""
    minima = recorded_family_minima(problem_rows)
    if len(minima) < 2 or not any("families" in r for rs in problem_rows.values() for r in rs):
        return None
    best, runner_up = best_and_runner_up(minima)
    out: dict = {
        "best_family": best,
        "runner_up": runner_up,
        "runner_up_minimum": minima[runner_up],
        "family_minima": dict(sorted(minima.items(), key=lambda kv: (kv[1], kv[0]))),
        "window": window,
        "samplers": {},
    }
    for sampler in _sampler_order(problem_rows):
        studies = [study_commitment(r, best, minima[runner_up], window) for r in problem_rows[sampler]]
        recorded = [st for st in studies if st["recorded"]]
        cell: dict = {
            "studies": len(studies),
            "recorded": len(recorded),
            "best_basin_share": float(np.mean([st["in_best_basin"] for st in studies])),
        }
        if recorded:
            first = np.array([st["first_tuned"] for st in recorded])
            cell.update(
                committed_share=float(np.mean([st["committed"] for st in recorded])),
                first_tuned_median=float(np.median(first)),  # inf where more than half never got one
                first_tuned_min=float(first.min()),
                first_tuned_max=float(first.max()),
                never_tuned_share=float(np.isinf(first).mean()),
                budget=min(st["trials"] for st in recorded),
            )
        out["samplers"][sampler] = cell
    return out


# ---------------------------------------------------------------------------------------------------------------
# Writing.


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "not reached"
    return f"{x:.{digits}g}"


def _sampler_order(names) -> list[str]:
    order = ["cascade", "cascade_pretrained", *BASELINES]

    def key(name: str) -> tuple:
        base = name.removesuffix(HAND).removesuffix(ONE_WORKER)
        return (order.index(base) if base in order else len(order), base != name, name)

    return sorted(names, key=key)


def _bootstrap_rng(seed: int, problem: str, sampler: str) -> np.random.Generator:
    """One random stream per (problem, baseline): an interval depends on its own rows only, so adding another
    problem's or sampler's rows leaves it unchanged."""
    return np.random.default_rng([seed, zlib.crc32(f"{problem}/{sampler}".encode())])


def build_summary(
    problems: dict[str, dict[str, list[dict]]],
    seed: int = 0,
    challenger: str = CHALLENGER,
    checkpoints: tuple[int, ...] = CHECKPOINTS,
) -> dict:
    summary: dict = {"problems": {}, "challenger": challenger}
    if checkpoints != CHECKPOINTS:  # recorded only where it differs from every suite's
        summary["checkpoints"] = list(checkpoints)
    for problem in sorted(problems):
        rows = problems[problem]
        curves, info = regret_curves(rows)
        entry: dict = {"normalisation": info, "samplers": {}, "reach": {}, "paired": {}}
        for sampler in _sampler_order(curves):
            c = curves[sampler]
            entry["samplers"][sampler] = {
                "seeds": len(c),
                "trials": int(c.shape[1]),
                "optuna": sorted({r["optuna_version"] for r in rows[sampler]}),
                "median_regret": {str(t): float(np.median(c[:, t - 1])) for t in checkpoints if t <= c.shape[1]},
                "final_regret": float(np.median(c[:, -1])),
                "final_median_value": float(np.median([r["incumbent_true"][-1] for r in rows[sampler]])),
            }
        if challenger in curves:
            for sampler in _sampler_order(curves):
                if sampler == challenger:
                    continue
                entry["reach"][sampler] = reach_figure(
                    curves[challenger], curves[sampler], _bootstrap_rng(seed, problem, sampler)
                )
                entry["paired"][sampler] = [
                    t
                    for at in checkpoints
                    if (t := paired_test(rows[challenger], rows[sampler], curves[challenger], curves[sampler], at))
                ]
        tpe = {t: entry["samplers"][t]["final_median_value"] for t in TPE_VARIANTS if t in entry["samplers"]}
        entry["best_tpe"] = min(tpe, key=tpe.get) if tpe else None  # the reference: the best TPE setting here
        summary["problems"][problem] = entry
    commitment = {p: ec for p in sorted(problems) if (ec := early_commitment(problems[p]))}
    if commitment:  # only where rows record their trials' families: older reports stay as they were
        summary["early_commitment"] = commitment
    feasible = {p: f for p in sorted(problems) if (f := feasibility(problems[p]))}
    if feasible:  # only constrained problems' rows record feasibility
        summary["feasibility"] = feasible
    return summary


FEASIBILITY_WINDOWS = {"trials 1-50": (0, 50), "trials 101-200": (100, 200)}


def feasibility(problem_rows: dict[str, list[dict]]) -> dict | None:
    """Per sampler of a constrained problem: the share of trials that did not fit (all, early, late), the median
    trial of the first feasible one, and the median regret in the objective's own unit (not normalised: on a
    constrained problem the median random value is the infeasible trials' worst value)."""
    if not any("feasible" in r for rs in problem_rows.values() for r in rs):
        return None
    out = {}
    for sampler in _sampler_order(problem_rows):
        rs = [r for r in problem_rows[sampler] if "feasible" in r]
        if not rs:
            continue
        flags = [np.array(r["feasible"], dtype=bool) for r in rs]
        first = [int(np.argmax(f)) + 1 if f.any() else math.inf for f in flags]
        raw = np.array([np.array(r["incumbent_true"]) - r["optimum"] for r in rs])
        out[sampler] = {
            "seeds": len(rs),
            "infeasible_share": float(np.mean([1 - f.mean() for f in flags])),
            **{
                f"infeasible_share {name}": _mean_or_none([1 - f[a:b].mean() for f in flags if len(f) > a])
                for name, (a, b) in FEASIBILITY_WINDOWS.items()
            },
            "first_feasible_median": float(np.median(first)),
            "regret": {str(t): float(np.median(raw[:, t - 1])) for t in CHECKPOINTS if t <= raw.shape[1]},
        }
    return out


def _mean_or_none(values: list) -> float | None:
    return float(np.mean(values)) if values else None


def feasibility_table(feasible: dict) -> list[str]:
    lines = [
        "## Feasibility",
        "",
        "Constrained problems: each sampler's share of trials that did not fit (mean over its studies), the trial of "
        "its first feasible trial (median), and the median regret of the best *feasible* trial in the objective's "
        "own unit (the normalised regret above divides by the distance to the median random value, which on a "
        "constrained problem is the infeasible trials' worst value).",
        "",
        "| problem | sampler | seeds | infeasible | "
        + " | ".join(f"infeasible {w}" for w in FEASIBILITY_WINDOWS)
        + " | first feasible | "
        + " | ".join(f"regret @{t}" for t in CHECKPOINTS)
        + " |",
        "|---|---|---|---|" + "---|" * len(FEASIBILITY_WINDOWS) + "---|" + "---|" * len(CHECKPOINTS),
    ]
    for problem, by_sampler in feasible.items():
        for sampler, f in by_sampler.items():
            shares = ["—" if (v := f[f"infeasible_share {w}"]) is None else f"{v:.0%}" for w in FEASIBILITY_WINDOWS]
            lines.append(
                f"| {problem} | {sampler} | {f['seeds']} | {f['infeasible_share']:.0%} | "
                + " | ".join(shares)
                + f" | {_trial(f['first_feasible_median'])} | "
                + " | ".join(_fmt(f["regret"].get(str(t)), 4) for t in CHECKPOINTS)
                + " |"
            )
    return [*lines, ""]


def overview_table(summary: dict) -> list[str]:
    """One row per problem: each sampler's median regret at its last trial, and the trials the challenger needs to
    reach the best TPE setting's median final value (the headline figure)."""
    challenger = summary.get("challenger", CHALLENGER)
    samplers = _sampler_order({s for e in summary["problems"].values() for s in e["samplers"]})
    lines = [
        "## Overview",
        "",
        "Median normalised regret at each sampler's last trial (see the trials per problem below; a sampler with "
        "fewer seeds than the others on a problem says how many). Last column: "
        f"trials `{challenger}` needs to reach the best TPE setting's median final value (bootstrap 95% interval).",
        "",
        "| problem | " + " | ".join(samplers) + f" | {challenger} trials to best TPE |",
        "|---|" + "---|" * (len(samplers) + 1),
    ]
    for problem, entry in summary["problems"].items():
        cells = []
        most = max(info["seeds"] for info in entry["samplers"].values())
        for s in samplers:
            info = entry["samplers"].get(s)
            fewer = f" ({info['seeds']} seeds)" if info and info["seeds"] < most else ""
            cells.append(_fmt(info["final_regret"]) + fewer if info else "—")
        reach = entry["reach"].get(entry["best_tpe"])
        cells.append(
            f"{_fmt(reach['median_trials'])} [{_fmt(reach['ci_low'])}, {_fmt(reach['ci_high'])}] "
            f"vs `{entry['best_tpe']}`"
            if reach
            else "—"
        )
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    return lines + [""]


def write_markdown(summary: dict, timing: dict, costs: dict, suite: str) -> str:
    challenger = summary.get("challenger", CHALLENGER)
    checkpoints = tuple(summary.get("checkpoints", CHECKPOINTS))
    lines = [
        f"# Benchmark report: suite `{suite}`",
        "",
        "Normalised regret: 0 = the optimum, 1 = the median random configuration (see `benchmarks/report.py`). "
        "Medians over seeds; regenerate with `python -m benchmarks report --suite " + suite + "`.",
        "",
    ]
    versions = sorted({v for e in summary["problems"].values() for s in e["samplers"].values() for v in s["optuna"]})
    lines += [f"optuna version(s) in these results: {', '.join(versions)}", ""]
    if suite in REFERENCE_SUITES:
        lines += [
            f"Samplers marked `{ONE_WORKER.strip()}` are the same samplers' studies in suite "
            f"`{REFERENCE_SUITES[suite]}` (one worker, same seeds and budget); the others ran with several "
            "simulated asynchronous workers (see `benchmarks.runner.run_study`). Trial counts are trials "
            "finished, so the curves compare sample efficiency, not wall-clock time.",
            "",
        ]
    lines += overview_table(summary)
    for problem, entry in summary["problems"].items():
        info = entry["normalisation"]
        lines += [
            f"## {problem}",
            "",
            f"f* = {info['optimum']:.6g} ({info['optimum_source']}); median random value = "
            f"{info['median_random']:.6g} (from {info['scale_source']}); best value any study reached = "
            f"{info['best_observed']:.6g}. Best TPE setting here (lowest median final value): "
            f"`{entry['best_tpe']}`.",
            "",
            "| sampler | seeds | trials | " + " | ".join(f"regret @{t}" for t in checkpoints) + " |",
            "|---|---|---|" + "---|" * len(checkpoints),
        ]
        for sampler, s in entry["samplers"].items():
            cells = [_fmt(s["median_regret"].get(str(t))) for t in checkpoints]
            lines.append(f"| {sampler} | {s['seeds']} | {s['trials']} | " + " | ".join(cells) + " |")
        lines.append("")
        if entry["reach"]:
            lines += [
                f"Trials `{challenger}` needs to reach each sampler's median final value "
                "(median over its seeds, bootstrap 95% interval; share of its seeds that reach it):",
                "",
                "| baseline | target (regret) | trials needed | 95% interval | seeds reaching | "
                + " | ".join(f"W/T/L @{t} (p)" for t in checkpoints)
                + " |",
                "|---|---|---|---|---|" + "---|" * len(checkpoints),
            ]
            for sampler, r in entry["reach"].items():
                tests = {t["at"]: t for t in entry["paired"][sampler]}
                cells = [
                    f"{t['win']}/{t['tie']}/{t['loss']} ({t['p']:.2g})" if (t := tests.get(at)) else "—"
                    for at in checkpoints
                ]
                lines.append(
                    f"| {sampler} | {r['target']:.3g} | {_fmt(r['median_trials'])} of {r['budget']} | "
                    f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] | {r['share_reached']:.0%} | "
                    + " | ".join(cells)
                    + " |"
                )
            lines.append("")
        else:
            lines += [f"No `{challenger}` results for this problem yet.", ""]
    if summary.get("feasibility"):
        lines += feasibility_table(summary["feasibility"])
    if summary.get("early_commitment"):
        lines += early_commitment_table(summary["early_commitment"], challenger)
    if summary.get("errors"):
        lines += [
            "## Studies in which the sampler raised",
            "",
            "Not in the tables above (a crash has no regret); the traceback is in `<sampler>.errors.jsonl.gz`.",
            "",
            "| problem | sampler | studies | trials completed (median) | error |",
            "|---|---|---|---|---|",
        ]
        for problem, by_sampler in summary["errors"].items():
            for sampler, rs in by_sampler.items():
                lines.append(
                    f"| {problem} | {sampler} | {len(rs)} | {np.median([r['trials_completed'] for r in rs]):.0f} "
                    f"| {rs[0]['error'][:120]} |"
                )
        lines.append("")
    lines += [
        "## Cost",
        "",
        "Sampler seconds per trial (timing suite on `llm_strong`, GPSampler to 300 trials only; "
        "per study the mean over trials 81-120 and 951-1,000, then the median over the sampler's studies):",
        "",
        "| sampler | trials run | s/trial @100 | s/trial @1000 |",
        "|---|---|---|---|",
    ]
    for sampler in _sampler_order(timing):
        t = timing[sampler]
        raised = " (the sampler raised)" if t.get("error") else ""
        lines.append(f"| {sampler} | {t['n_trials']}{raised} | {_fmt(t['at_100'])} | {_fmt(t['at_1000'])} |")
    if not timing:
        lines.append("| (no timing results: `python -m benchmarks run --suite timing`) | | | |")
    lines += [
        "",
        f"Whole suite `{suite}`, per sampler: studies, summed study seconds (one core each; the suite runs "
        "two at a time) and the sampler's own share:",
        "",
        "| sampler | studies | study seconds | sampler seconds |",
        "|---|---|---|---|",
    ]
    for sampler in _sampler_order(costs):
        c = costs[sampler]
        lines.append(f"| {sampler} | {c['studies']} | {c['study_seconds']:.0f} | {c['sampler_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def _trial(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:g}"


def early_commitment_table(commitment: dict, challenger: str = CHALLENGER) -> list[str]:
    """The "Early commitment" section: one column per sampler, GPSampler's beside the challenger's."""
    found = {s for e in commitment.values() for s in e["samplers"]}
    first = [s for s in (challenger, "gp") if s in found]
    samplers = first + [s for s in _sampler_order(found) if s not in first]
    window = next(iter(commitment.values()))["window"]
    lines = [
        "## Early commitment",
        "",
        "Does a sampler stop trying the best strategy family (the one with the lowest best noise-free value, "
        "`benchmarks/problems/base.py`) before it has tuned it? A best-family trial is *tuned* when its noise-free "
        "value is below the runner-up family's minimum: the first evidence that the family is the better one. "
        f"Per sampler, over its studies: the share whose last {window} trials are mostly (> 50%) on the best "
        "family; the trial of the first tuned best-family trial (median [min, max]; never = not within the "
        "budget, counted as beyond it) and the share of studies that never had one; the share whose incumbent "
        "ends below the runner-up's minimum. Rows written before the runner recorded each trial's family say "
        '"not recorded".',
        "",
        "| problem | measure | " + " | ".join(samplers) + " |",
        "|---|---|" + "---|" * len(samplers),
    ]
    for problem, e in commitment.items():
        best, runner = f"`{e['best_family']}`", f"`{e['runner_up']}`"
        measures = (
            (f"last {window} trials mostly {best}", "committed"),
            (f"first tuned {best} trial (below {runner}'s minimum {e['runner_up_minimum']:.4g})", "first"),
            (f"never a tuned {best} trial", "never"),
            (f"incumbent ends below {runner}'s minimum", "basin"),
        )
        for label, measure in measures:
            cells = []
            for s in samplers:
                c = e["samplers"].get(s)
                if c is None:
                    cells.append("—")
                elif measure == "basin":
                    cells.append(f"{c['best_basin_share']:.0%}")
                elif not c["recorded"]:
                    cells.append("not recorded")
                else:
                    part = f" ({c['recorded']} of {c['studies']} studies)" if c["recorded"] < c["studies"] else ""
                    if measure == "committed":
                        cells.append(f"{c['committed_share']:.0%}{part}")
                    elif measure == "never":
                        cells.append(f"{c['never_tuned_share']:.0%}{part}")
                    else:
                        cells.append(
                            f"{_trial(c['first_tuned_median'])} [{_trial(c['first_tuned_min'])}, "
                            f"{_trial(c['first_tuned_max'])}] of {c['budget']}{part}"
                        )
            lines.append(f"| {problem} | {label} | " + " | ".join(cells) + " |")
    return lines + [""]


def _band(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.median(c, axis=0), np.percentile(c, 25, axis=0), np.percentile(c, 75, axis=0)


def write_curves(problems: dict[str, dict[str, list[dict]]], out: Path) -> None:
    from plotly.colors import qualitative
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = sorted(problems)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    all_samplers = _sampler_order({s for p in problems.values() for s in p})
    colour = {s: qualitative.Plotly[i % 10] for i, s in enumerate(all_samplers)}

    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mfig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    shown: set[str] = set()
    for k, problem in enumerate(names):
        curves, _ = regret_curves(problems[problem])
        r, c = divmod(k, cols)
        ax = axes[r][c]
        for sampler in _sampler_order(curves):
            med, lo, hi = _band(np.maximum(curves[sampler], 1e-12))
            x = np.arange(1, len(med) + 1)
            dash = "dash" if HAND in sampler else "dot" if ONE_WORKER in sampler else "solid"
            fig.add_trace(
                go.Scatter(
                    x=np.r_[x, x[::-1]],
                    y=np.r_[hi, lo[::-1]],
                    fill="toself",
                    line_width=0,
                    fillcolor=colour[sampler],
                    opacity=0.15,
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=sampler,
                ),
                row=r + 1,
                col=c + 1,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=med,
                    name=sampler,
                    legendgroup=sampler,
                    showlegend=sampler not in shown,
                    line={"color": colour[sampler], "dash": dash},
                ),
                row=r + 1,
                col=c + 1,
            )
            shown.add(sampler)
            ax.plot(
                x,
                med,
                label=sampler,
                color=colour[sampler],
                linestyle="--" if HAND in sampler else ":" if ONE_WORKER in sampler else "-",
            )
            ax.fill_between(x, lo, hi, color=colour[sampler], alpha=0.15, linewidth=0)
        ax.set_yscale("log")
        ax.set_title(problem, fontsize=10)
        ax.set_xlabel("trial")
        ax.set_ylabel("normalised regret")
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].axis("off")
    legend = {}  # every sampler once, from whichever panel shows it
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    labels = _sampler_order(legend)
    mfig.legend([legend[k] for k in labels], labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    mfig.tight_layout(rect=(0, 0.06, 1, 1))
    mfig.savefig(out / "curves.png", dpi=90)
    plt.close(mfig)
    fig.update_yaxes(type="log", title_text="normalised regret")
    fig.update_xaxes(title_text="trial")
    fig.update_layout(
        height=320 * rows,
        width=460 * cols,
        title="Median normalised regret of the incumbent (band: interquartile range over seeds)",
    )
    fig.write_html(out / "curves.html", include_plotlyjs="cdn")


def report_texts(suite: str, results: Path = RESULTS_DIR, problems: dict | None = None) -> dict[str, str]:
    """The text of the suite's ``summary.json`` and ``REPORT.md``, from its rows (``problems``: already loaded)."""
    problems = load_suite(results, suite) if problems is None else problems
    if not problems:
        raise FileNotFoundError(f"no results under {results / suite}")
    summary = build_summary(problems, challenger=CHALLENGERS.get(suite, CHALLENGER))
    timing = timing_table(results)
    costs = cost_table(problems)
    summary["timing"], summary["cost"] = timing, costs
    summary["errors"] = {
        p: {s: [{k: r[k] for k in ("seed", "trials_completed", "error")} for r in rs] for s, rs in by_sampler.items()}
        for p, by_sampler in load_errors(results, suite).items()
    }
    return {
        "summary.json": json.dumps(summary, indent=1) + "\n",
        "REPORT.md": write_markdown(summary, timing, costs, suite),
    }


def report(suite: str, results: Path = RESULTS_DIR, out: Path | None = None) -> Path:
    out = out or results / suite / "report"
    problems = load_suite(results, suite)
    texts = report_texts(suite, results, problems)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (out / name).write_text(text)
    write_curves(problems, out)
    return out
