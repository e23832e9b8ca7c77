"""Check that the sampler suggests exactly what a baseline revision suggested, trial by trial.

A refactoring of the package must not change a single suggestion: the committed benchmark rows, the docs' figures and
every user's seeded study depend on them. This script checks out ``--baseline`` into a temporary ``git worktree``,
runs the same seeded studies under the baseline's code and under the working tree's (each in its own subprocess, whose
``sys.path`` starts at that tree, so ``cascaderl_optuna`` and ``benchmarks`` are imported from it), and compares every
trial's parameters and system attributes (the stored decision and policy records) as JSON.

The studies: the shipped sampler on a few benchmark problems (strategic heads, heads with several levels, a space with
no strategic parameter), a warm-started study, a constrained one (``constraints_func``), and one study per ablation of
``benchmarks/ablations.py`` (their committed rows must stay reproducible). No YAHPO problem (they need their own env).

    .venv/bin/python scripts/check_identical_suggestions.py --baseline bec03a8 [--output FILE.md]

Exit status 0 when every study is identical, 1 otherwise. A few minutes on one core.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time


ROOT = Path(__file__).resolve().parent.parent
N_TRIALS = 80
N_ABLATION_TRIALS = 60
PROBLEMS = ("llm_strong", "fcnet_protein", "llm_family_2", "mixint_f10_d10")
ABLATIONS = ("uniform_high_level", "no_low_level_learning", "flat", "no_tuning_share", "share_every_head")
STUDIES = (
    *(f"cascade:{p}" for p in PROBLEMS),
    "warm_start:llm_family_3",
    "constrained:llm_memory_2",
    *(f"ablation:{a}" for a in ABLATIONS),
)


# -- the child: run the studies under the code of one tree ---------------------------------------------------------
def _run_study(spec: str) -> list[dict]:
    import optuna

    from benchmarks.problems import make_problem
    from cascaderl_optuna import CascadeSampler

    kind, name = spec.split(":")
    seed = 0
    n_trials = N_TRIALS
    problem = make_problem("llm_strong" if kind == "ablation" else name)

    def objective(trial: optuna.Trial) -> float:
        params = problem.suggest(trial)
        return problem.evaluate(params, noise_seed=seed * 1_000_003 + trial.number).value

    kwargs: dict = {"seed": seed, "strategic_params": problem.strategic_params}
    sampler: optuna.samplers.BaseSampler
    if kind == "cascade":
        sampler = CascadeSampler(**kwargs)
    elif kind == "warm_start":
        earlier_problem = make_problem("llm_family_2")
        earlier = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
        earlier.optimize(
            lambda t: earlier_problem.evaluate(earlier_problem.suggest(t), noise_seed=t.number).value, n_trials=60
        )
        sampler = CascadeSampler(**kwargs, warm_start=earlier)
    elif kind == "constrained":
        constraints = problem.constraints  # type: ignore[attr-defined]
        sampler = CascadeSampler(**kwargs, constraints_func=lambda t: list(constraints(t.params).values()))
    elif kind == "ablation":
        from benchmarks.ablations import ABLATIONS as ablations

        sampler = ablations[name](**kwargs)
        n_trials = N_ABLATION_TRIALS
    else:
        raise ValueError(spec)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return [
        {"number": t.number, "state": t.state.name, "params": t.params, "system_attrs": t.system_attrs}
        for t in study.trials
    ]


def _child(tree: str, out: str) -> None:
    sys.path.insert(0, tree)
    import optuna

    import cascaderl_optuna

    assert Path(cascaderl_optuna.__file__).resolve().is_relative_to(Path(tree).resolve()), cascaderl_optuna.__file__
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = {}
    for spec in STUDIES:
        start = time.perf_counter()
        results[spec] = _run_study(spec)
        print(f"  {spec}: {len(results[spec])} trials, {time.perf_counter() - start:.1f} s", file=sys.stderr)
    Path(out).write_text(json.dumps(results, sort_keys=True, default=repr))


# -- the parent: both trees, then the comparison --------------------------------------------------------------------
def _run_tree(tree: Path, out: Path) -> dict:
    print(f"running the studies under {tree}", file=sys.stderr)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, __file__, "--child", str(tree), str(out)], cwd=tree, env=env, check=True)
    return json.loads(out.read_text())


def _digest(trials: list[dict]) -> str:
    return hashlib.sha256(json.dumps(trials, sort_keys=True).encode()).hexdigest()[:16]


def _compare(baseline: dict, current: dict) -> tuple[list[str], bool]:
    rows, same_all = [], True
    for spec in STUDIES:
        old, new = baseline[spec], current[spec]
        diff = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), None)
        if diff is None and len(old) != len(new):
            diff = min(len(old), len(new))
        same = diff is None
        same_all &= same
        verdict = "identical" if same else f"DIFFERS from trial {diff}"
        rows.append(f"| {spec} | {len(new)} | {_digest(old)} | {_digest(new)} | {verdict} |")
    return rows, same_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="bec03a8", help="the revision whose suggestions must be kept")
    parser.add_argument("--output", type=Path, help="write the report (Markdown) here too")
    parser.add_argument("--child", nargs=2, metavar=("TREE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "cascaderl_optuna", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="identical-suggestions-") as tmp:
        base_tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(base_tree), args.baseline], cwd=ROOT, check=True
        )
        try:
            baseline = _run_tree(base_tree, Path(tmp) / "baseline.json")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=True)
        current = _run_tree(ROOT, Path(tmp) / "current.json")
    rows, same = _compare(baseline, current)
    report = "\n".join(
        [
            "# Identical suggestions",
            "",
            "Every trial's parameters and system attributes (the stored decision and policy records), compared as JSON",
            f"between the baseline `{args.baseline}` and the working tree at `{head.strip()}`"
            + (" (with uncommitted changes)" if dirty else "")
            + ". Seed 0; the digest is over the study's trials.",
            "",
            "    .venv/bin/python scripts/check_identical_suggestions.py --baseline "
            f"{args.baseline} --output benchmarks/results/identical_suggestions.md",
            "",
            "| study | trials | baseline digest | current digest | verdict |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"**{'All identical.' if same else 'NOT identical.'}**",
            "",
        ]
    )
    print(report)
    if args.output:
        args.output.write_text(report)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
