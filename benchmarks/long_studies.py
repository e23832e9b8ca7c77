"""Long studies of the cascade, to compare two versions of its code where they differ: after the window is full.

The refit points (the critic's hyperparameters and the high level's weights re-fitted every 5% of the study once it
outgrows the window, instead of every 10 trials and every trial) change no decision of a study's first 200 trials, so
the 200-trial benchmarks cannot tell whether they cost quality. This runs 600-trial studies with whichever
``cascaderl_optuna`` and ``benchmarks`` are first on the path, each study run by the harness's own ``run_study``, and
prints one JSON line per study (noise-free value of the incumbent after 200, 400 and 600 trials, and the sampler's
seconds); ``--compare BEFORE AFTER`` pairs two such files by (problem, seed). The committed comparison
(``benchmarks/results/long_studies/``) was made with::

    git worktree add ../before 110ecce            # the last commit with the old schedule
    for p in llm_strong yahpo_xgboost_1501; do
        PYTHONPATH=../before python benchmarks/long_studies.py $p 0 6 600 >> before.jsonl
        PYTHONPATH=. python benchmarks/long_studies.py $p 0 6 600 >> after.jsonl
    done
    python benchmarks/long_studies.py --compare before.jsonl after.jsonl

(the two runs shared the machine's two cores, so read the seconds as a ratio). The two files are committed gzip'd,
``before.jsonl.gz`` and ``after.jsonl.gz`` (``python -m benchmarks.rows convert``); ``--compare`` reads either form
and finds ``before.jsonl.gz`` when given ``before.jsonl``. "After" was commit e33ee03; the critic's posterior has
since moved to NumPy (3c58796), whose arithmetic differs in the last bits, so re-running the "after" side today gives
other studies of the same sampler.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys


def run(problem_name: str, first_seed: int, last_seed: int, n_trials: int) -> None:
    from benchmarks.runner import run_study
    from benchmarks.runner import Task
    import cascaderl_optuna

    for seed in range(first_seed, last_seed):
        row = run_study(Task("long_studies", problem_name, "cascade", seed, n_trials))
        curve = row["incumbent_true"]
        print(
            json.dumps(
                {
                    "code": cascaderl_optuna.__file__,
                    "problem": problem_name,
                    "seed": seed,
                    "at200": curve[199],
                    "at400": curve[399],
                    "final": curve[-1],
                    "optimum": row["optimum"],
                    "sampler_s": sum(row["sampler_seconds"]),
                }
            ),
            flush=True,
        )


def compare(before_path: str, after_path: str) -> None:
    import numpy as np

    from benchmarks import rows as row_files
    from benchmarks.report import paired_wilcoxon

    def rows(path):
        if row_files.existing(Path(path)) is None:
            raise SystemExit(f"{path}: no such file (nor {path}.gz); give the files the runs above wrote")
        return {(r["problem"], r["seed"]): r for r in row_files.read(Path(path))}

    before, after = rows(before_path), rows(after_path)
    keys = sorted(set(before) & set(after))
    for at in ("at200", "at400", "final"):
        a = np.array([after[k][at] for k in keys])
        b = np.array([before[k][at] for k in keys])
        p = paired_wilcoxon(a - b)  # the report's test: ties split between the signs
        print(
            f"{at}: {len(keys)} studies; after better {(a < b).sum()}, worse {(a > b).sum()}, tied {(a == b).sum()}; "
            f"paired Wilcoxon p = {p:.2g}"
        )
    print(
        f"sampler seconds per study: before {np.mean([before[k]['sampler_s'] for k in keys]):.1f}, "
        f"after {np.mean([after[k]['sampler_s'] for k in keys]):.1f}"
    )


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
