"""The cascade figures in optuna-dashboard: saved into the study, served, drawn by a real browser.

A real study (CascadeSampler, 25 trials, SQLite) is published with the callback and the function;
optuna-dashboard's own reader finds the figures in the storage; then the real ``optuna-dashboard``
server is started on that SQLite file and headless Chromium opens the study's page, where the
trials and the cascade tree must be drawn, and a click must expand a branch. The screenshot is
kept in ``test-artifacts/``. Without Chromium or Playwright the browser test is skipped, except
in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
import sys

import optuna
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna import DashboardCallback
from cascaderl_optuna import publish_to_dashboard
from cascaderl_optuna.integrations.dashboard import CASCADE_TREE_ID
from cascaderl_optuna.integrations.dashboard import STRATEGY_HISTORY_ID


sys.path.insert(0, str(Path(__file__).parent))
from dashboard_browser import browser_unavailable
from dashboard_browser import launch_chromium
from dashboard_browser import running_dashboard


optuna_dashboard = pytest.importorskip("optuna_dashboard")
from optuna_dashboard._custom_plot_data import get_plotly_graph_objects  # noqa: E402


N_TRIALS = 25
OPTIMIZERS = ("adamw", "sgd", "adafactor")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def objective(trial: optuna.Trial) -> float:
    optimizer = trial.suggest_categorical("optimizer", OPTIMIZERS)
    lr = trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
    best = {"adamw": 3e-4, "sgd": 0.1, "adafactor": 1e-3}[optimizer]
    return (math.log10(lr) - math.log10(best)) ** 2 + {"adamw": 0.0, "sgd": 0.5, "adafactor": 0.2}[optimizer]


def _published(study: optuna.Study) -> dict[str, dict]:
    attrs = study._storage.get_study_system_attrs(study._study_id)
    return {k: json.loads(v) for k, v in get_plotly_graph_objects(attrs).items()}


@pytest.fixture(scope="module")
def published_study(tmp_path_factory):
    """A 25-trial CascadeSampler study on SQLite, published by the callback every 10 trials."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'study.db'}"
    study = optuna.create_study(storage=url, study_name="cascade-dashboard", sampler=CascadeSampler(seed=0))
    optuna_dashboard.save_note(study, "the user's own note")
    seen_by_callback: list[float] = []

    def record(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        figures = _published(study)
        seen_by_callback.append(figures[CASCADE_TREE_ID]["data"][0]["values"][0] if figures else 0)

    study.optimize(objective, n_trials=N_TRIALS, callbacks=[DashboardCallback(every=10), record])
    return url, study, seen_by_callback


def test_callback_publishes_every_n_trials_and_publish_brings_it_up_to_date(published_study) -> None:
    url, study, seen = published_study
    # The tree the dashboard would show after each trial: none, then 10 trials, then 20.
    assert seen == [0] * 9 + [10] * 10 + [20] * 6
    assert publish_to_dashboard(study) == [CASCADE_TREE_ID, STRATEGY_HISTORY_ID]
    reloaded = optuna.load_study(study_name="cascade-dashboard", storage=url)
    figures = _published(reloaded)
    assert set(figures) == {CASCADE_TREE_ID, STRATEGY_HISTORY_ID}
    tree = figures[CASCADE_TREE_ID]["data"][0]
    assert tree["type"] == "icicle" and tree["values"][0] == N_TRIALS
    assert {f"optimizer={o}" for o in OPTIMIZERS} >= {
        label for label, parent in zip(tree["labels"], tree["parents"]) if parent == "all trials"
    }
    assert optuna_dashboard.get_note(reloaded) == "the user's own note"  # not the figures' business


def test_dashboard_arguments_are_checked(monkeypatch) -> None:
    with pytest.raises(ValueError, match="every must be an int >= 1"):
        DashboardCallback(every=0)
    with pytest.raises(ValueError, match="sequence of parameter names"):
        DashboardCallback(strategic_params="optimizer")
    multi = optuna.create_study(directions=["minimize", "maximize"])
    with pytest.raises(ValueError, match="single-objective studies only"):
        multi.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1, callbacks=[DashboardCallback()])
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'cascaderl-optuna\[dashboard\]'"):
        publish_to_dashboard(optuna.create_study())
    with pytest.raises(ImportError, match="optuna-dashboard"):
        DashboardCallback()


@pytest.mark.slow  # headless Chromium
def test_real_dashboard_in_headless_chromium_shows_the_trials_and_the_tree(published_study) -> None:
    reason = browser_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true turns a missing browser into a failure)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    url, study, _ = published_study
    publish_to_dashboard(study)
    ARTIFACTS.mkdir(exist_ok=True)
    tree_selector = f'[id="user-defined-plot:{CASCADE_TREE_ID}"]'
    with running_dashboard(url) as base, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"{base}/dashboard/studies/{study._study_id}")
            tree = page.locator(tree_selector)
            tree.locator("g.slice").first.wait_for(timeout=30_000)
            page.locator('[id="plot-history"] .scatterlayer .point').first.wait_for(timeout=30_000)
            # The trials: the dashboard's own history plot has one point per trial.
            objective_points = page.evaluate(
                "() => document.getElementById('plot-history').data"
                ".filter(d => d.name.startsWith('Objective')).map(d => d.x.length)"
            )
            assert objective_points == [N_TRIALS]
            # The cascade tree: drawn with every explored strategy and its trial count.
            drawn = tree.inner_text()
            explored = {t.params["optimizer"] for t in study.trials}
            for optimizer in explored:
                assert f"optimizer={optimizer}" in drawn
            assert f"{N_TRIALS} trials" in drawn
            assert page.locator(f'[id="user-defined-plot:{STRATEGY_HISTORY_ID}"] .scatterlayer .trace').count() > 0
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            # Click a strategy: the tree zooms into that branch, its siblings go.
            best = study.best_trial.params["optimizer"]
            n_before = tree.locator("g.slice").count()
            tree.locator("g.slice", has_text=f"optimizer={best}").first.click()
            page.wait_for_function(
                f"""() => {{
                    const trace = document.querySelector('{tree_selector}')._fullData[0];
                    return trace.level === trace.ids[trace.labels.indexOf('optimizer={best}')];
                }}""",
                timeout=10_000,
            )
            page.wait_for_function(
                f"() => document.querySelectorAll('{tree_selector} g.slice').length < {n_before}",
                timeout=10_000,
            )
            others = [o for o in explored if o != best]
            zoomed = tree.locator("g.slice").evaluate_all("els => els.map(e => e.textContent)")
            assert any(f"optimizer={best}" in text for text in zoomed)
            assert not any(f"optimizer={o}" in text for o in others for text in zoomed)
            page.screenshot(path=str(ARTIFACTS / "dashboard_tree_expanded.png"), full_page=True)
        finally:
            browser.close()
