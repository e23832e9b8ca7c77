"""The research options of branch research-small-budget: a known budget scales the tuning share; critic evidence may
release a choice from it. Neither changes anything unless asked for."""

import numpy as np
import optuna
import pytest
import torch

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.high_level import budget_tuning_trials
from cascaderl_optuna._cascade.high_level import MIN_BUDGET_TUNING_TRIALS
from cascaderl_optuna._cascade.high_level import tuning_share
from cascaderl_optuna._cascade.high_level import TUNING_TRIALS


def test_budget_tuning_trials_scale_with_the_budget_within_bounds():
    assert budget_tuning_trials(200, [3, 4, 5]) == [TUNING_TRIALS] * 3
    assert budget_tuning_trials(50, [2, 3, 4, 5]) == [10, 7, 5, 4]
    assert budget_tuning_trials(10, [6]) == [MIN_BUDGET_TUNING_TRIALS]


def test_a_choice_with_enough_budget_trials_is_tuned():
    uncertainty = torch.tensor([[1 / np.sqrt(1 + 5), 1 / np.sqrt(1 + 2)]], dtype=torch.float64)
    valid = torch.ones(1, 2, dtype=torch.bool)
    m, q = tuning_share(uncertainty, valid, tuning_trials=5)
    assert q[0].tolist() == [0.0, 1.0] and m.item() == pytest.approx(0.25)
    m16, _ = tuning_share(uncertainty, valid)
    assert m16.item() == pytest.approx(0.5)


def test_critic_evidence_releases_a_choice_only_when_asked():
    uncertainty = torch.tensor([[1 / np.sqrt(1 + 3), 1 / np.sqrt(1 + 3)]], dtype=torch.float64)
    valid = torch.ones(1, 2, dtype=torch.bool)
    gap = torch.tensor([[0.0, -2.0]], dtype=torch.float64)
    m, q = tuning_share(uncertainty, valid, critic_gap=gap, release_gap=1.0)
    assert q[0].tolist() == [1.0, 0.0] and m.item() == pytest.approx(0.25)
    m_off, _ = tuning_share(uncertainty, valid, critic_gap=gap)
    assert m_off.item() == pytest.approx(0.5)


def _suggestions(**kwargs):
    def objective(trial):
        opt = trial.suggest_categorical("opt", ["a", "b", "c"])
        x = trial.suggest_float("x", -3, 3)
        return (x - {"a": 0.0, "b": 1.0, "c": -1.0}[opt]) ** 2 + {"a": 0.0, "b": 0.3, "c": 0.6}[opt]

    study = optuna.create_study(sampler=CascadeSampler(seed=3, **kwargs))
    study.optimize(objective, n_trials=30)
    return [t.params for t in study.trials]


def test_n_trials_none_is_the_default_and_a_budget_sets_the_release_gap():
    assert _suggestions() == _suggestions(n_trials=None)
    agent = CascadeSampler(n_trials=50)._high_level_agent([])
    assert agent._release_gap == pytest.approx(1.0) and agent._tuning_trials_list == []
    assert CascadeSampler()._high_level_agent([])._release_gap is None
    with pytest.raises(ValueError):
        CascadeSampler(n_trials=0)
