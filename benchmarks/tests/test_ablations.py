"""The ablations of the benchmarks (benchmarks/ablations.py): each switches off exactly its part of the cascade."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from benchmarks.ablations import ABLATIONS
from benchmarks.ablations import FlatCascade
from benchmarks.ablations import NoTuningShareAgent
from benchmarks.problems import make_problem
from benchmarks.samplers import make_sampler
from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.encoding import N_FEATURES
from cascaderl_optuna._cascade.encoding import UNCERTAINTY
from cascaderl_optuna._cascade.high_level import HighLevelAgent
from cascaderl_optuna._cascade.records import Decision
from cascaderl_optuna._cascade.records import PolicyDiagnostics
from tests.test_sampler import planted


@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
def test_ablations_switch_off_exactly_their_part(ablation):
    study = optuna.create_study(sampler=ABLATIONS[ablation](seed=0, n_startup_trials=5))
    study.optimize(planted, n_trials=20)
    last = study.trials[-1]
    decision, policy = Decision.read(last), PolicyDiagnostics.read(last)
    probs = policy.probs["optimizer"]
    if ablation == "uniform_high_level":
        assert probs == pytest.approx([1 / 3] * 3)
    else:
        assert probs != pytest.approx([1 / 3] * 3)
    if ablation == "no_low_level_learning":
        assert all(v == 0.0 for v in decision.ll_log_prob.values())  # uniform density
    else:
        assert any(v != 0.0 for v in decision.ll_log_prob.values())
    gaps = decision.critic_gap["optimizer"]
    assert (max(abs(g) for g in gaps) == 0.0) == (ablation == "flat")


def test_the_flat_ablation_learns_the_numbers_from_every_trial_whatever_its_strategy():
    """One Gaussian shared by every strategy: each low-level PPO batch holds all finished trials (64 imagined
    actions plus every real one), where the cascade's holds only the chosen strategy's real trials."""

    def batch_sizes(sampler):
        study = optuna.create_study(sampler=sampler)
        study.optimize(planted, n_trials=25)
        rows = []
        for t in study.trials[5:]:
            finished = [u for u in study.trials[: t.number] if u.state.is_finished()]
            same = [u for u in finished if u.params["optimizer"] == t.params["optimizer"]]
            rows.append((PolicyDiagnostics.read(t).low_level["n_samples"], len(finished), len(same)))
        return rows

    flat = batch_sizes(FlatCascade(seed=1, n_startup_trials=5))
    assert all(n == 64 + n_finished for n, n_finished, _ in flat)
    cascade = batch_sizes(CascadeSampler(seed=1, n_startup_trials=5))
    assert all(n == 64 + n_same or (n_same < 2 and n == 64) for n, _, n_same in cascade)
    assert any(n_same < n_finished for _, n_finished, n_same in cascade)


def test_the_benchmark_names_make_the_ablation_classes_and_the_shipped_sampler_has_no_switch():
    problem = make_problem("llm_strong")
    for name, cls in ABLATIONS.items():
        sampler = make_sampler(f"cascade_{name}", 0, problem)
        assert type(sampler) is cls and isinstance(sampler, CascadeSampler)
    with pytest.raises(TypeError):
        CascadeSampler(ablation="flat")  # research switches are not part of the product


def test_no_tuning_share_differs_from_the_shipped_policy_only_while_a_choice_is_untuned():
    def phi(counts):
        out = np.zeros((len(counts), N_FEATURES))
        out[:, UNCERTAINTY] = 1.0 / np.sqrt(1.0 + np.array(counts, dtype=float))
        return out

    shipped, ablated = HighLevelAgent([3]), NoTuningShareAgent([3])
    untuned = phi([40, 40, 2])
    assert ablated.head_probabilities(0, untuned).sum() == pytest.approx(1.0)
    assert ablated.head_probabilities(0, untuned)[2] < shipped.head_probabilities(0, untuned)[2] - 0.05
    tuned = phi([40, 40, 16])
    assert ablated.head_probabilities(0, tuned) == pytest.approx(shipped.head_probabilities(0, tuned))
    # the PPO re-scoring path uses the same policy as acting
    features = torch.tensor(untuned)[None, :, :]
    assert ablated._probs(features, ablated.bias, ablated.theta)[0].numpy() == pytest.approx(
        ablated.head_probabilities(0, untuned)
    )


def test_share_every_head_keeps_the_share_on_a_head_the_shipped_policy_lets_go():
    """Once the window shows that head 0 decides, the shipped policy drops head 1's share; the ablation keeps it."""
    from benchmarks.ablations import ShareEveryHeadAgent

    choices = np.array([[0, 0], [1, 1], [0, 1], [1, 0]])
    utilities = np.array([1.0, -1.0, 0.9, -1.1])  # head 0 moves the utility by 2, head 1 by 0.1
    untuned = np.zeros((3, N_FEATURES))
    untuned[:, UNCERTAINTY] = 1.0 / np.sqrt(1.0 + np.array([20.0, 20.0, 0.0]))  # choice 2 not tried
    probs = {}
    for cls in (HighLevelAgent, ShareEveryHeadAgent):
        agent = cls([3, 3])
        agent.observe(choices, utilities)
        probs[cls] = [agent.head_probabilities(k, untuned) for k in (0, 1)]
    shipped, every = probs[HighLevelAgent], probs[ShareEveryHeadAgent]
    assert shipped[0] == pytest.approx(every[0])  # the decisive head: the same policy
    assert shipped[1][2] < every[1][2] - 0.05  # the other head: no share for its untried choice
    assert shipped[1].sum() == pytest.approx(1.0)
