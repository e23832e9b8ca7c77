"""Pre-training of the high level: the synthetic tasks, the PPO update of the prior, the weights file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import pretraining
from benchmarks.pretraining import Episode
from benchmarks.pretraining import ppo_round
from benchmarks.pretraining import SyntheticProblem
from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade import pretrained
from cascaderl_optuna._cascade.encoding import FEATURE_NAMES
from cascaderl_optuna._cascade.high_level import TUNING_SHARE
from cascaderl_optuna._cascade.high_level import TUNING_TRIALS


def test_synthetic_problem_optimum_is_zero_and_reached_at_the_best_strategy():
    for seed in range(20):
        problem = SyntheticProblem.draw(np.random.default_rng(seed))
        best = [int(np.argmin(o)) for o in problem.offsets]
        assert problem.true_value((best, problem.optimum[best[0]].copy())) == pytest.approx(0.0)
        rng = np.random.default_rng(seed + 100)
        values = [problem.true_value(problem.random_config(rng)) for _ in range(200)]
        assert min(values) >= 0.0 and problem.scale > 0.0


def _decision(t, phi, chosen, log_prob):
    return {
        "t": t,
        "features": [phi],
        "bias": np.zeros((1, phi.shape[0])),
        "theta": np.zeros(len(FEATURE_NAMES)),
        "chosen": [chosen],
        "sampled": [True],
        "log_prob": log_prob,
        "floor": 0.15,
        "share_mask": np.ones(1),
    }


def test_ppo_round_shifts_the_prior_towards_the_feature_that_paid_off():
    # Two choices; feature 0 ("best_gap") is high for choice 0. Choosing choice 0 was followed by a regret drop,
    # choosing choice 1 was not: the update must raise the weight of feature 0.
    rng = np.random.default_rng(0)
    episodes = []
    for _ in range(8):
        decisions, regret, current = [], [], 1.0
        for t in range(30):
            phi = np.zeros((2, len(FEATURE_NAMES)))
            phi[0, 0] = rng.uniform(0.5, 1.0)
            chosen = int(rng.integers(2))
            decisions.append(_decision(t, phi, chosen, np.log(0.5)))
            if chosen == 0:
                current *= 0.8
            regret.append(current)
        episodes.append(Episode(np.array(regret), decisions))
    delta, stats = ppo_round(episodes, gamma=0.0, clip=0.2, epochs=20, lr=0.05, l2=0.0)
    assert delta[0] > 0.05
    assert np.abs(np.delete(delta, 0)).max() < 1e-6  # features that were all zero get no gradient
    assert stats["decisions"] == 240


def test_pretrained_weights_are_plain_json_and_checked(tmp_path, monkeypatch):
    assert pretraining.WEIGHTS_PATH == pretrained.WEIGHTS_PATH  # the training script writes where the sampler reads
    theta = [0.1 * i for i in range(len(FEATURE_NAMES))]
    path = tmp_path / "high_level.json"
    path.write_text(json.dumps({"features": list(FEATURE_NAMES), "theta": theta}))
    assert pretrained.load_pretrained_theta(path).tolist() == pytest.approx(theta)
    monkeypatch.setattr(pretrained, "WEIGHTS_PATH", path)
    monkeypatch.setattr(pretrained.load_pretrained_theta, "__defaults__", (path,))
    assert CascadeSampler(high_level_theta="pretrained")._theta.tolist() == pytest.approx(theta)
    path.write_text(json.dumps({"features": ["other"] * len(FEATURE_NAMES), "theta": theta}))
    with pytest.raises(ValueError, match="re-run `python -m benchmarks.pretraining`"):
        pretrained.load_pretrained_theta(path)
    with pytest.raises(FileNotFoundError, match="python -m benchmarks.pretraining"):
        pretrained.load_pretrained_theta(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="'pretrained'"):
        CascadeSampler(high_level_theta="pre-trained")


def test_one_short_training_round_runs_the_real_cascade_and_records_its_decisions():
    episode = pretraining.run_episode(np.array(pretraining.DEFAULT_THETA), problem_seed=3, n_trials=25, sampler_seed=0)
    assert len(episode.regret) == 25 and np.all(np.diff(episode.regret) <= 1e-12)  # the incumbent never worsens
    assert len(episode.decisions) == 15  # every trial after the 10-trial start
    first = episode.decisions[0]
    assert first["t"] == 10 and len(first["features"]) == len(first["chosen"])
    # PPO's ratio starts at 1: re-scoring a stored decision with the weights it was taken with gives back its
    # behaviour log-probability (the agent's policy: the floored softmax with the tuning share mixed in).
    for d in episode.decisions:
        log_prob = 0.0
        for k, phi in enumerate(d["features"]):
            logits = d["bias"][k, : phi.shape[0]] + phi @ d["theta"]
            soft = np.exp(logits - logits.max())
            p = (1 - d["floor"]) * soft / soft.sum() + d["floor"] / phi.shape[0]
            counts = 1.0 / phi[:, FEATURE_NAMES.index("uncertainty")] ** 2 - 1.0
            missing = np.maximum(TUNING_TRIALS - counts, 0.0)
            share = TUNING_SHARE * np.mean(missing > 0) * d["share_mask"][k]  # the decisive head's, or every head's
            if share > 0:
                p = (1 - share) * p + share * missing / missing.sum()
            log_prob += np.log(p[d["chosen"][k]]) if d["sampled"][k] else 0.0
        assert log_prob == pytest.approx(d["log_prob"], abs=1e-9)
    assert any(d["share_mask"].sum() < len(d["share_mask"]) for d in episode.decisions)  # a head lost its share
