"""The Trainer-style categorical spaces over the drawn LoRA landscapes (benchmarks/problems/llm_trainer.py)."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from benchmarks.problems import make_problem
from benchmarks.problems import PUBLISHED_LLM_TRAINER
from benchmarks.problems.llm_family import loss as family_loss
from benchmarks.problems.llm_trainer import CATEGORICAL
from benchmarks.problems.llm_trainer import TrainerSpaceProblem


def _config(problem: TrainerSpaceProblem, **changes: object) -> dict:
    p = {name: problem.choices[name][0] for name in CATEGORICAL}
    p.update(learning_rate=1e-3, weight_decay=1e-3, warmup_ratio=0.06)
    p.update(changes)
    return p


def _best_log10_lr(problem: TrainerSpaceProblem, p: dict) -> float:
    grid = np.linspace(-6, -1, 2001)
    return float(grid[np.argmin([problem.true_value({**p, "learning_rate": 10**g}) for g in grid])])


@pytest.mark.parametrize("seed", PUBLISHED_LLM_TRAINER)
def test_eight_categorical_lists_written_with_trainers_names(seed: int) -> None:
    problem = make_problem(f"llm_trainer_{seed}")
    assert problem.strategic_params == ()
    strategies = math.prod(len(problem.choices[n]) for n in CATEGORICAL)
    assert len(CATEGORICAL) == 8 and 5_000 <= strategies <= 100_000
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for k in range(20):
        trial = study.ask()
        params = problem.suggest(trial)
        assert all(
            isinstance(trial.distributions[n], optuna.distributions.CategoricalDistribution) for n in CATEGORICAL
        )
        ev = problem.evaluate(params, noise_seed=k)
        assert ev == problem.evaluate(params, noise_seed=k) and math.isfinite(ev.value)
        assert ev.true_value >= problem.optimum() - 1e-9  # nothing sampled beats the estimated optimum
        study.tell(trial, ev.value)


def test_the_landscape_is_the_family_landscape_of_the_same_seed() -> None:
    problem = TrainerSpaceProblem(2)
    other_dropout = next(d for d in problem.choices["lora_dropout"] if d != problem.dropout_best)
    # alpha = 2 r, the best epochs and a dropout that gains nothing: exactly the family's loss at the same numbers
    p = _config(problem, lora_r=8, lora_alpha=16, lora_dropout=other_dropout, num_train_epochs=problem.epochs_best)
    q = problem._family_params(p)
    assert q["learning_rate"] == p["learning_rate"] and q["batch_size"] == p["per_device_train_batch_size"]
    assert problem.true_value(p) == family_loss(q, problem.spec)
    # the heads the family lacks add their drawn offsets
    assert problem.true_value({**p, "lora_dropout": problem.dropout_best}) < problem.true_value(p)
    worse_epochs = 1 if problem.epochs_best == 3 else 3
    assert problem.true_value({**p, "num_train_epochs": worse_epochs}) > problem.true_value(p)


@pytest.mark.parametrize("seed", [1, 4])
def test_optimizer_batch_and_alpha_move_the_best_rate_and_offset_heads_do_not(seed: int) -> None:
    problem = TrainerSpaceProblem(seed)
    base = _config(problem, lora_alpha=16, per_device_train_batch_size=16)
    at = _best_log10_lr(problem, base)
    families = {f: _best_log10_lr(problem, {**base, "optim": f}) for f in problem.choices["optim"]}
    assert max(families.values()) - min(families.values()) > 0.5  # decades apart
    assert _best_log10_lr(problem, {**base, "per_device_train_batch_size": 64}) > at + 0.2
    assert _best_log10_lr(problem, {**base, "lora_alpha": 64}) == pytest.approx(at - math.log10(4), abs=0.01)
    for name in ("lora_dropout", "num_train_epochs", "lora_target_modules"):
        for choice in problem.choices[name]:
            assert _best_log10_lr(problem, {**base, name: choice}) == pytest.approx(at, abs=0.003), (name, choice)


def test_family_minima_follow_the_landscapes_best_family() -> None:
    for seed in PUBLISHED_LLM_TRAINER:
        problem = TrainerSpaceProblem(seed)
        minima = problem.family_minima()
        assert list(minima) == list(problem.spec.family_names)
        assert min(minima, key=minima.get) == problem.spec.best
