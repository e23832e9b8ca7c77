"""The benchmark problem built from the table of real LoRA runs (benchmarks/problems/lora_table.py).

The pipeline is checked on a table written here with a known loss function of the parameters (the real table is
collected by ``benchmarks.lora_runs``): the surrogate must rank held-out runs it never saw, the replicates must give
back the noise put in, and the problem must behave as a benchmark problem inside a real Optuna study."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import optuna
import pytest

from benchmarks import lora_runs
from benchmarks.problems import lora_table


NOISE = 0.02


def _loss(p: dict) -> float:
    """Every family has its best learning rate elsewhere (SGD's a decade higher), plus offsets of two heads."""
    best = {"sgd": -1.0, "adagrad": -2.0}.get(p["optim"], -3.0)
    return (
        0.35 + 0.08 * (math.log10(p["learning_rate"]) - best) ** 2 + 0.02 * (p["lora_target_modules"] != "all_linear")
    )


def _row(config: int, seed: int, rng: np.random.Generator) -> dict:
    p = lora_runs.draw_params(config)
    final = _loss(p) + NOISE * float(rng.normal())
    diverged = math.log10(p["learning_rate"]) > -0.3  # the top of the range diverges, as real runs do
    curve = (
        [[15, final + 0.1], [30, 50.0 if diverged else final + 0.05]]
        if diverged
        else [[s, final + 0.1 * (60 - s) / 45] for s in (15, 30, 45, 60)]
    )
    status = "diverged" if diverged else "ok"
    return {"config": config, "seed": seed, "params": p, "curve": curve, "final": curve[-1][1], "status": status}


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lora_runs")
    rng = np.random.default_rng(0)
    rows = [_row(j.config, j.seed, rng) for j in lora_runs.jobs(400)]
    lora_runs.write_shard(folder / "part-0-0000.jsonl.gz", rows)
    return folder


def test_the_held_out_fifth_never_reaches_the_surrogate(table: Path) -> None:
    rows = lora_runs.read_rows(table)
    train, held = lora_table.split(rows)
    assert {r["config"] % 5 for r in held} == {4} and not any(r["config"] % 5 == 4 for r in train)
    assert len(train) + len(held) == len(rows)


def test_held_out_losses_do_not_move_the_problems_predictions(table: Path, tmp_path: Path) -> None:
    rows = lora_runs.read_rows(table)
    poisoned = [
        dict(r, final=0.0, curve=[[s, 0.0] for s, _ in r["curve"]]) if r["config"] % 5 == 4 else r for r in rows
    ]
    lora_runs.write_shard(tmp_path / "part-0-0000.jsonl.gz", poisoned)
    probe = [lora_runs.draw_params(c) for c in range(2000, 2050)]
    clean = lora_table.LoraTableProblem(table).surrogate.predict_curve(probe)
    assert np.array_equal(lora_table.LoraTableProblem(tmp_path).surrogate.predict_curve(probe), clean)
    # ... while the same change on training rows does move them: the check can fail
    moved = [dict(r, final=0.0, curve=[[s, 0.0] for s, _ in r["curve"]]) if r["config"] % 5 == 3 else r for r in rows]
    lora_runs.write_shard(tmp_path / "part-0-0000.jsonl.gz", moved)
    lora_table._fitted.cache_clear()
    assert not np.array_equal(lora_table.LoraTableProblem(tmp_path).surrogate.predict_curve(probe), clean)


def test_the_noise_leaves_out_configurations_that_reached_the_cap() -> None:
    rows = [{"config": 0, "final": f} for f in (0.50, 0.52, 0.54)]
    rows += [{"config": 1, "final": f} for f in (0.40, None, 0.44)]  # one seed diverged: a failure, not noise
    assert lora_table.replicate_noise_sd(rows) == pytest.approx(0.02)


def test_a_diverged_run_counts_as_the_cap_at_every_later_step() -> None:
    row = {"curve": [[15, 0.5], [30, 50.0]], "status": "diverged"}
    assert lora_table.curve_targets(row, [15, 30, 45, 60]) == [0.5, 1.0, 1.0, 1.0]
    assert lora_table.capped(None) == lora_table.capped(math.nan) == lora_table.LOSS_CAP


def test_fit_report_ranks_unseen_runs_and_measures_the_noise_put_in(table: Path) -> None:
    report = lora_table.fit_report(lora_runs.read_rows(table))
    assert report["held_out_runs"] == len([c for c in range(360) if c % 5 == 4])
    assert report["steps"] == [15, 30, 45, 60]
    assert report["spearman_surrogate_by_step"][-1] > 0.8  # a learnable landscape is learned
    assert report["spearman_nearest_run_final"] < report["spearman_surrogate_by_step"][-1]
    assert report["noise_sd"] == pytest.approx(NOISE, rel=0.35)  # 20 configurations x 3 seeds, none at the cap


def test_the_problem_runs_in_a_study_with_measured_noise_and_a_curve(table: Path) -> None:
    problem = lora_table.LoraTableProblem(table)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    gaps = []
    for k in range(40):
        trial = study.ask()
        params = problem.suggest(trial)
        assert ("sgd_momentum" in params) == (params["optim"] == "sgd")
        ev = problem.evaluate(params, noise_seed=k)
        assert ev == problem.evaluate(params, noise_seed=k)  # noise is a function of its seed
        assert problem.curve(params)[-1] == (60, pytest.approx(ev.true_value))
        gaps.append(ev.value - ev.true_value)
        study.tell(trial, ev.value)
    assert np.std(gaps) == pytest.approx(problem.noise_sd, rel=0.5) and problem.noise_sd > 0
    minima = problem.family_minima()
    assert set(minima) == set(lora_runs.SPACE["optim"])
    assert all(0.3 < v < 0.5 for v in minima.values())  # every family's basin (0.35 at its own best rate) is found
    assert problem.family({"optim": "sgd"}) == "sgd" and problem.optimum() is None
