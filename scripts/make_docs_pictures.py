"""Make the pictures of the cascade tree and of optuna-dashboard in README.md and docs/observability.md: docs/*.png.

Runs a real study (``CascadeSampler(seed=0)``, 150 trials) on the benchmark's LLM fine-tuning
landscape ``llm_strong`` (``benchmarks/problems/llm.py``), stores it in a temporary SQLite file,
publishes the cascade figures to it, and takes two screenshots in headless Chromium:

* ``docs/cascade_tree.png``: ``plot_cascade_tree(study)`` on its own page;
* ``docs/dashboard.png``: the study's page in the real ``optuna-dashboard`` server.

Usage (from the repository root, in the environment of ``scripts/test.sh``)::

    .venv/bin/python scripts/make_docs_pictures.py [--trials 150]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import tempfile
import warnings

import optuna


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from dashboard_browser import browser_unavailable  # noqa: E402
from dashboard_browser import launch_chromium  # noqa: E402
from dashboard_browser import running_dashboard  # noqa: E402

from benchmarks.problems import make_problem  # noqa: E402
from cascaderl_optuna import CascadeSampler  # noqa: E402
from cascaderl_optuna import plot_cascade_tree  # noqa: E402
from cascaderl_optuna import publish_to_dashboard  # noqa: E402
from cascaderl_optuna._cascade.records import PolicyDiagnostics  # noqa: E402


PROBLEM = "llm_strong"


def run_study(storage_url: str, n_trials: int) -> optuna.Study:
    problem = make_problem(PROBLEM)
    study = optuna.create_study(
        storage=storage_url,
        study_name=f"{PROBLEM}-cascade",
        sampler=CascadeSampler(seed=0, strategic_params=problem.strategic_params),
    )

    def objective(trial: optuna.Trial) -> float:
        params = problem.suggest(trial)
        return problem.evaluate(params, noise_seed=trial.number).value

    study.optimize(objective, n_trials=n_trials)
    return study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=150)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    reason = browser_unavailable()
    if reason is not None:
        sys.exit(reason)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'study.db'}"
        study = run_study(url, args.trials)
        publish_to_dashboard(study)
        page_file = Path(tmp) / "tree.html"
        plot_cascade_tree(study).write_html(page_file, include_plotlyjs=True, full_html=True)
        with running_dashboard(url) as base, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 720})
                page.goto(page_file.as_uri())
                page.locator("g.slice").first.wait_for(timeout=30_000)
                page.screenshot(path=str(args.out / "cascade_tree.png"))

                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{base}/dashboard/studies/{study._study_id}")
                tree = page.locator('[id="user-defined-plot:cascaderl-cascade-tree"]')
                tree.locator("g.slice").first.wait_for(timeout=30_000)
                page.locator('[id="plot-history"] .scatterlayer .point').first.wait_for(timeout=30_000)
                page.screenshot(path=str(args.out / "dashboard.png"), full_page=True)
            finally:
                browser.close()
    best = study.best_trial
    print(f"{args.trials} trials; best value {best.value:.4f} at trial {best.number}: {best.params}")
    # What docs/observability.md says about the pictures, as numbers.
    trials = study.trials
    half = len(trials) // 2
    for name, part in (("first half", trials[:half]), ("second half", trials[half:])):
        spent = {o: sum(t.params["optimizer"] == o for t in part) for o in ("adamw", "adafactor", "sgd")}
        print(f"trials per optimizer, {name}: {spent}")
    last = PolicyDiagnostics.read(trials[-1])
    print(f"last high-level probabilities of the optimizer: {last.probs['optimizer'] if last and last.probs else None}")
    print(f"wrote {args.out / 'cascade_tree.png'} and {args.out / 'dashboard.png'}")


if __name__ == "__main__":
    main()
