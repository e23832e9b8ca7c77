"""CascadeSampler against TPESampler on the real task: LoRA fine-tuning of all-MiniLM-L6-v2 on SST-2.

::

    python -m benchmarks.lora_sst2 --seeds 0 1 2                    # the committed run (about 1 h of one core)
    python -m benchmarks.lora_sst2 --trials 4 --out /tmp/lora_quick  # a quick look

For each seed, one study per sampler with the same budget, the same objective
(:class:`~cascaderl_optuna.cli.tasks.text_classification.TextClassificationTask` at its default size:
150 optimizer steps, validation cross-entropy on 300 dev sentences every 50 steps, max length 64)
and the command line's pruner (``MedianPruner(n_startup_trials=5, n_warmup_steps=2)``):

* ``cascade``: ``CascadeSampler(seed=seed, strategic_params=space.strategic_params)``;
* ``tpe``: ``TPESampler(seed=seed)``, Optuna 5's defaults otherwise (multivariate TPE for one objective).

Afterwards the default configuration and each sampler's best trial are trained again (seed 0) and
measured on SST-2's labelled ``test.tsv`` (1,821 sentences), which no trial saw. Studies go to
``OUT/studies.db`` (a rerun continues them up to ``--trials``), numbers to ``OUT/results.json``
and the table to ``OUT/REPORT.md``. One process, one torch thread: the machine is shared.

The committed results were made at commit ``efcc68a``, when the task had its own training loop; it now trains with
transformers' ``Trainer``, so a re-run here measures the new task (``docs/benchmarks.md`` says how to re-run the old).
"""

from __future__ import annotations

import os


for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
from pathlib import Path  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402
import warnings  # noqa: E402

import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from benchmarks.samplers import make_sampler  # noqa: E402
from cascaderl_optuna.cli.app import make_objective  # noqa: E402
from cascaderl_optuna.cli.tasks import get_task  # noqa: E402
from cascaderl_optuna.cli.tasks import TrainingDiverged  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sst2"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "lora_sst2"
SAMPLERS = ("cascade", "tpe")
# This study's sampler names, as the harness's samplers (benchmarks.samplers): TPE with Optuna 5's defaults.
HARNESS_NAMES = {"cascade": "cascade", "tpe": "tpe_default"}


def trial_record(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return {
        "number": t.number,
        "state": t.state.name,
        "value": t.value,
        "params": t.params,
        "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        "val_accuracy": t.user_attrs.get("val_accuracy"),
        "fail_reason": t.user_attrs.get("fail_reason"),
        "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
        if t.datetime_complete and t.datetime_start
        else None,
    }


def run_study(task: Any, space: Any, sampler: str, seed: int, trials: int, storage: str) -> optuna.Study:
    study = optuna.create_study(
        study_name=f"lora_sst2-{sampler}-seed{seed}",
        storage=storage,
        load_if_exists=True,
        sampler=make_sampler(HARNESS_NAMES[sampler], seed, space),  # the space names its strategic_params
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
        direction=task.direction,
    )
    missing = trials - len(study.trials)
    if missing > 0:
        study.optimize(make_objective(task, space), n_trials=missing, catch=(TrainingDiverged,))
    return study


def best_so_far(study: optuna.Study) -> list[float | None]:
    out: list[float | None] = []
    best = math.inf
    for t in study.trials:
        if t.state == TrialState.COMPLETE and t.value is not None:
            best = min(best, t.value)
        out.append(None if best == math.inf else best)
    return out


def measure(task: Any, params: dict[str, Any], seed: int) -> dict[str, Any]:
    start = time.monotonic()
    try:
        ev = task.evaluate(params, seed=seed)
    except TrainingDiverged as exc:
        return {"params": task.full_params(params), "diverged": str(exc)}
    return {
        "params": task.full_params(params),
        "test": ev.metrics,
        "val_loss": ev.curves["val_loss"][-1],
        "seconds": round(time.monotonic() - start, 1),
    }


def report_markdown(results: dict[str, Any]) -> str:
    b = results["budget"]
    lines = [
        "# LoRA fine-tuning of all-MiniLM-L6-v2 on SST-2: CascadeSampler vs TPESampler",
        "",
        f"Budget: {b['trials']} trials per sampler, seeds {b['seeds']}, {b['max_steps']} optimizer steps per trial "
        f"(validation on {b['val_size']} dev sentences every {b['eval_every']} steps, max length {b['max_length']}), "
        f"MedianPruner(n_startup_trials=5, n_warmup_steps=2). Test: {b['test_size']} sentences of test.tsv, "
        "default and best configurations retrained with seed 0.",
        "",
        "| configuration | seed | best val. cross-entropy | trials complete / pruned / failed | test accuracy "
        "| test cross-entropy |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    d = results["default"]
    lines.append(
        "| default (AdamW 5e-4, warmup+cosine, LoRA r8/a16 query+value) | - | "
        f"{d['val_loss']:.4f} (its retraining) | - | "
        f"{d['test']['test_accuracy']:.4f} | {d['test']['test_loss']:.4f} |"
    )
    for run in results["runs"]:
        states = run["states"]
        best = run["best"]
        test = best.get("test") if best else None
        lines.append(
            f"| best of {run['sampler']} (trial {best['trial'] if best else '-'}) | {run['seed']} | "
            f"{run['best_value']:.4f} | "
            f"{states.get('COMPLETE', 0)} / {states.get('PRUNED', 0)} / {states.get('FAIL', 0)} | "
            + (f"{test['test_accuracy']:.4f} | {test['test_loss']:.4f} |" if test else "diverged | - |")
        )
    lines += ["", "Best configurations:", ""]
    for run in results["runs"]:
        if run["best"]:
            lines.append(f"- {run['sampler']} seed {run['seed']}: `{json.dumps(run['best']['trial_params'])}`")
    lines += _paired_lines(results["runs"])
    trial_seconds = sum(t.get("seconds") or 0.0 for run in results["runs"] for t in run["trials"])
    lines += [
        "",
        f"Wall time of the invocation that wrote this: {results['seconds']:.0f} s on {results['machine']} "
        "(an invocation continues the studies stored in OUT/studies.db, then retrains the default and every "
        f"best); the trials of these studies took {trial_seconds:.0f} s in all.",
        "",
    ]
    return "\n".join(lines)


def _paired_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Cascade against TPE seed by seed: which had the lower best validation loss, the higher test accuracy."""
    by_seed: dict[int, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_seed.setdefault(run["seed"], {})[run["sampler"]] = run
    pairs = [(seed, r["cascade"], r["tpe"]) for seed, r in sorted(by_seed.items()) if {"cascade", "tpe"} <= set(r)]
    if len(pairs) < 2:
        return []

    def accuracy(run: dict[str, Any]) -> float | None:
        return run["best"]["test"]["test_accuracy"] if run["best"] and run["best"].get("test") else None

    val = sum(c["best_value"] < t["best_value"] for _, c, t in pairs)
    acc = sum((accuracy(c) or 0.0) > (accuracy(t) or 0.0) for _, c, t in pairs)
    mean_cascade = sum(accuracy(c) or 0.0 for _, c, _ in pairs) / len(pairs)
    mean_tpe = sum(accuracy(t) or 0.0 for _, _, t in pairs) / len(pairs)
    return [
        "",
        f"Seed by seed ({len(pairs)} seeds): the cascade's best validation cross-entropy is lower than TPE's in "
        f"{val} of {len(pairs)}; its best configuration's test accuracy is higher in {acc} of {len(pairs)}. Mean test "
        f"accuracy of the best configurations: cascade {mean_cascade:.4f}, TPE {mean_tpe:.4f}.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="SST-2 folder (default ../shared/data/sst2)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder")
    parser.add_argument("--trials", type=int, default=16, help="trials per sampler and seed (default 16)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="sampler seeds (default 0)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--report-only", action="store_true", help="rewrite OUT/REPORT.md from OUT/results.json")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads((Path(args.out) / "results.json").read_text())
        (Path(args.out) / "REPORT.md").write_text(report_markdown(results))
        return 0
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    task = get_task("text_classification", data=args.data, device=args.device)
    space = task.load_space()
    storage = f"sqlite:///{out / 'studies.db'}"
    results: dict[str, Any] = {
        "budget": {
            "trials": args.trials,
            "seeds": args.seeds,
            "max_steps": task.max_steps,
            "eval_every": task.eval_every,
            "max_length": task.max_length,
            "val_size": len(task.splits["val"][0]),
            "train_size": len(task.splits["train"][0]),
            "test_size": len(task.splits["test"][0]),
        },
        "samplers": {
            "cascade": "CascadeSampler(seed=seed, strategic_params=space.strategic_params)",
            "tpe": "optuna.samplers.TPESampler(seed=seed) (Optuna 5 defaults: multivariate TPE for one objective, "
            "group=False, 10 startup trials)",
        },
        "optuna": optuna.__version__,
        "machine": f"{platform.machine()} {os.cpu_count()} cores (shared), torch threads 1, device {args.device}",
        "test_source": task.test_source,
        "runs": [],
    }
    studies = []
    for seed in args.seeds:
        for sampler in SAMPLERS:
            t0 = time.monotonic()
            study = run_study(task, space, sampler, seed, args.trials, storage)
            print(f"{sampler} seed {seed}: {len(study.trials)} trials in {time.monotonic() - t0:.0f} s", flush=True)
            studies.append((sampler, seed, study))
    print("measuring the default configuration on the test split", flush=True)
    results["default"] = measure(task, {}, seed=0)
    for sampler, seed, study in studies:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best = None
        if complete:
            bt = study.best_trial
            best = measure(task, dict(bt.params), seed=0) | {
                "trial": bt.number,
                "trial_params": bt.params,
                "value": bt.value,
            }
        results["runs"].append(
            {
                "sampler": sampler,
                "seed": seed,
                "best_value": study.best_value if complete else None,
                "best_so_far": best_so_far(study),
                "states": {
                    s.name: sum(t.state == s for t in study.trials)
                    for s in TrialState
                    if any(t.state == s for t in study.trials)
                },
                "best": best,
                "trials": [trial_record(t) for t in study.trials],
            }
        )
        print(
            f"{sampler} seed {seed}: best val {results['runs'][-1]['best_value']}, test {best and best.get('test')}",
            flush=True,
        )
    results["seconds"] = time.monotonic() - start
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "REPORT.md").write_text(report_markdown(results))
    print(report_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
