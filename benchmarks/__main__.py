"""Command line: ``python -m benchmarks run|report|reproduce|setup-yahpo``.

python -m benchmarks run --suite full          # every missing (problem, sampler, seed) study, 2 workers
python -m benchmarks run --suite timing        # sampler seconds per trial up to 1,000 trials
python -m benchmarks report --suite full       # REPORT.md, curves.html, curves.png, summary.json
python -m benchmarks run --quick && python -m benchmarks report --quick
python -m benchmarks reproduce --suite full --seeds 2   # re-run 2 seeds per cell: identical? cost here?
python -m benchmarks setup-yahpo               # the separate environment for YAHPO Gym
"""

from __future__ import annotations

import os


# One study per core: BLAS/OpenMP thread pools are sized when numpy, scipy or torch first load, so this must come
# before they are imported here (and so before the worker processes fork).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from benchmarks import report as report_mod  # noqa: E402
from benchmarks import reproduce as reproduce_mod  # noqa: E402
from benchmarks import runner  # noqa: E402
from benchmarks.problems.yahpo import VENV_PYTHON  # noqa: E402
from benchmarks.suites import SUITES  # noqa: E402


def _suite(args: argparse.Namespace) -> str:
    return "quick" if args.quick else args.suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "report", "reproduce"):
        p = sub.add_parser(name)
        p.add_argument("--suite", choices=sorted(SUITES), default="full")
        p.add_argument("--quick", action="store_true", help="same as --suite quick")
        p.add_argument("--results", type=Path, default=runner.RESULTS_DIR, help="results folder")
    run_p = sub.choices["run"]
    run_p.add_argument("--problems", nargs="+", help="only these problems")
    run_p.add_argument("--samplers", nargs="+", help="only these samplers")
    run_p.add_argument("--seeds", type=int, help="override the number of seeds")
    run_p.add_argument("--trials", type=int, help="override the number of trials")
    run_p.add_argument("--retry-failed", action="store_true", help="run again studies in which the sampler raised")
    run_p.add_argument(
        "--workers", type=int, default=runner.workers_default(), help=f"worker processes (at most {runner.MAX_WORKERS})"
    )
    repro_p = sub.choices["reproduce"]
    repro_p.add_argument("--seeds", type=int, default=1, help="seeds re-run per (problem, sampler) cell")
    repro_p.add_argument(
        "--workers", type=int, default=runner.workers_default(), help=f"worker processes (at most {runner.MAX_WORKERS})"
    )
    repro_p.add_argument("--scratch", type=Path, help="keep the re-run rows here (default: a temporary folder)")
    sub.choices["report"].add_argument("--out", type=Path, help="report folder (default <results>/<suite>/report)")
    sub.add_parser("setup-yahpo", help=f"create {VENV_PYTHON.parent.parent} with benchmarks/requirements-yahpo.txt")
    args = parser.parse_args(argv)

    if args.command == "setup-yahpo":
        venv = VENV_PYTHON.parent.parent
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        req = Path(__file__).with_name("requirements-yahpo.txt")
        subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "-q", "-r", str(req)], check=True)
        print(f"YAHPO environment ready: {VENV_PYTHON}")
        return 0
    suite = _suite(args)
    if args.command == "run":
        start = time.perf_counter()
        failures = runner.run(
            suite,
            args.results,
            workers=args.workers,
            problems=args.problems,
            samplers=args.samplers,
            n_seeds=args.seeds,
            n_trials=args.trials,
            retry_failed=args.retry_failed,
        )
        print(f"done in {time.perf_counter() - start:.0f} s; {failures} failed studies")
        return 1 if failures else 0
    if args.command == "reproduce":
        try:
            summary = reproduce_mod.reproduce(
                suite, args.results, n_seeds=args.seeds, workers=args.workers, scratch=args.scratch
            )
        except ValueError as exc:
            parser.error(str(exc))
        return 1 if summary["differences"] or summary["harness_failures"] else 0
    out = report_mod.report(suite, args.results, args.out)
    print(f"report written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
