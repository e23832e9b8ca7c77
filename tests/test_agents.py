"""The agents on plain arrays, without Optuna (as cmaes tests its optimisers)."""

import numpy as np
from optuna.distributions import CategoricalDistribution
import pytest
import torch

from cascaderl_optuna._cascade.coordinates import critic_input
from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.coordinates import strategy_code
from cascaderl_optuna._cascade.critic import fit_kernel
from cascaderl_optuna._cascade.critic import GaussianProcessCritic
from cascaderl_optuna._cascade.encoding import critic_gap_function
from cascaderl_optuna._cascade.encoding import HistoryEncoder
from cascaderl_optuna._cascade.high_level import decisive_head
from cascaderl_optuna._cascade.high_level import HighLevelAgent
from cascaderl_optuna._cascade.high_level import TUNING_SHARE
from cascaderl_optuna._cascade.high_level import TUNING_TRIALS
from cascaderl_optuna._cascade.history import discounted_returns
from cascaderl_optuna._cascade.low_level import elite_initialisation
from cascaderl_optuna._cascade.low_level import LowLevelAgent
from cascaderl_optuna._cascade.low_level import optimistic_score
from cascaderl_optuna._cascade.ppo import normalise
from cascaderl_optuna._cascade.ppo import ppo_update


def _bandit_history(rng, n=40, n_choices=3, best=1):
    choices = rng.integers(0, n_choices, size=(n, 1))
    utilities = np.where(choices[:, 0] == best, 1.0, -1.0) + 0.1 * rng.standard_normal(n)
    log_prob = np.full((n, 1), np.log(1.0 / n_choices))
    return choices, utilities, log_prob


def test_high_level_prefers_the_rewarded_choice_but_keeps_the_floor():
    rng = np.random.default_rng(0)
    choices, utilities, log_prob = _bandit_history(rng, n=4 * TUNING_TRIALS)  # every choice tuned
    assert np.bincount(choices[:, 0]).min() >= TUNING_TRIALS
    agent = HighLevelAgent([3], floor=0.15)
    agent.fit(choices, utilities, log_prob)
    _, _, probs, _ = agent.act(np.random.default_rng(1))
    p = probs[0]
    assert np.argmax(p) == 1 and p[1] > 0.6
    assert p.min() >= 0.15 / 3 - 1e-12  # the margin: no strategy's probability reaches zero


def test_an_untuned_choice_keeps_the_tuning_share_however_bad_its_trials():
    """A family tried a few times at borrowed values looks worse than a tuned one; until it has its own trials it
    is not left to the floor: the untuned choices share TUNING_SHARE x (their number / n_choices)."""
    rng = np.random.default_rng(0)
    n_tuned = 3 * TUNING_TRIALS
    choices = np.concatenate([rng.integers(0, 2, n_tuned), [2, 2, 2]])[:, None]  # choice 2: three trials, all bad
    utilities = (
        np.where(choices[:, 0] == 1, 1.0, 0.0) - 2.0 * (choices[:, 0] == 2) + 0.1 * rng.standard_normal(len(choices))
    )
    log_prob = np.full((len(choices), 1), np.log(1 / 3))
    agent = HighLevelAgent([3], floor=0.15)
    agent.fit(choices, utilities, log_prob)
    _, _, probs, _ = agent.act(np.random.default_rng(1))
    share = TUNING_SHARE * 1 / 3
    assert probs[0][2] >= share + (1 - share) * 0.15 / 3 - 1e-12
    assert np.argmax(probs[0]) == 1

    # the same history with choice 2 tuned (TUNING_TRIALS trials, just as bad): the floor alone holds it
    tuned = np.concatenate([choices[:n_tuned, 0], np.full(TUNING_TRIALS, 2)])[:, None]
    tuned_u = np.concatenate([utilities[:n_tuned], np.full(TUNING_TRIALS, -2.0)])
    agent = HighLevelAgent([3], floor=0.15)
    agent.fit(tuned, tuned_u, np.full((len(tuned), 1), np.log(1 / 3)))
    _, _, probs_tuned, _ = agent.act(np.random.default_rng(1))
    assert probs_tuned[0][2] < 0.5 * probs[0][2]
    assert probs_tuned[0][2] >= 0.15 / 3 - 1e-12


def test_the_decisive_head_is_the_one_whose_choices_move_the_best_utility():
    choices = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    # head 0's choices: best 0.1 and 1.0 (spread 0.9); head 1's: best 1.0 and 0.9 (spread 0.1)
    assert decisive_head(choices, np.array([0.0, 0.1, 1.0, 0.9]), [2, 2]) == 0
    assert decisive_head(choices, np.array([0.0, 1.0, 0.1, 0.9]), [2, 2]) == 1
    assert decisive_head(choices[:1], np.array([0.0]), [2, 2]) is None  # no head has two choices tried yet


class _ShareOnEveryHead(HighLevelAgent):
    share_on_decisive_head_only = False


def test_only_the_decisive_head_keeps_the_tuning_share():
    """Head 0 (the family) moves the utility by 1-3; head 1 adds an offset of 0.05. Each has one choice with three
    trials: the family's keeps its tuning share, the offset head's is left to the learned policy."""
    rng = np.random.default_rng(0)
    n = 3 * TUNING_TRIALS
    h0 = np.concatenate([rng.integers(0, 2, n), [2, 2, 2], rng.integers(0, 2, 3)])
    h1 = np.concatenate([rng.integers(0, 2, n), rng.integers(0, 2, 3), [2, 2, 2]])
    choices = np.stack([h0, h1], axis=1)
    utilities = 1.0 * (h0 == 1) - 2.0 * (h0 == 2) + 0.05 * (h1 == 0) + 0.1 * rng.standard_normal(len(h0))
    log_prob = np.full(choices.shape, np.log(1 / 3))
    assert decisive_head(choices, utilities, [3, 3]) == 0
    probs = {}
    for cls in (HighLevelAgent, _ShareOnEveryHead):
        agent = cls([3, 3], floor=0.15)
        agent.fit(choices, utilities, log_prob)
        probs[cls] = agent.act(np.random.default_rng(1))[2]
    shipped, every = probs[HighLevelAgent], probs[_ShareOnEveryHead]
    share = TUNING_SHARE * 1 / 3
    for p in (shipped, every):  # the family's untuned choice: the share and the floor, however bad its trials
        assert p[0][2] >= share + (1 - share) * 0.15 / 3 - 1e-12
    assert every[1][2] >= share + (1 - share) * 0.15 / 3 - 1e-12
    assert shipped[1][2] < every[1][2] - 0.05  # the offset head's untuned choice: no share


def test_the_stored_log_probability_is_the_one_ppo_rescores():
    """act's probabilities (with the tuning share) and the PPO fit's re-scoring of the same state agree: the ratio of
    an action just taken is 1."""
    rng = np.random.default_rng(3)
    choices, utilities, log_prob = _bandit_history(rng, n=20)
    agent = HighLevelAgent([3], floor=0.15)
    agent.observe(choices, utilities)
    _, lp, probs, _ = agent.act(np.random.default_rng(0), fixed={0: 2})
    features = torch.tensor(agent.encoder.features(0, []))[None, None]  # (1 trial, 1 head, 3 choices, F)
    rescored = agent._probs(features, agent.bias, agent.theta)[0, 0]
    np.testing.assert_allclose(rescored.numpy(), probs[0], rtol=1e-9)
    assert lp[0] == pytest.approx(np.log(probs[0][2]))


def test_high_level_ppo_update_moves_biases_towards_positive_advantages():
    rng = np.random.default_rng(0)
    choices, utilities, log_prob = _bandit_history(rng, best=2)
    agent = HighLevelAgent([3], theta_prior=np.zeros(8))  # features off: only PPO's biases learn
    stats = agent.fit(choices, utilities, log_prob)
    assert agent.bias[0, 2] > agent.bias[0, 0] and agent.bias[0, 2] > agent.bias[0, 1]
    assert stats.n_samples == 40 and stats.approx_kl >= 0.0


def test_high_level_spreads_pending_choices():
    agent = HighLevelAgent([3], floor=0.15)
    rng = np.random.default_rng(0)
    choices, utilities, log_prob = _bandit_history(rng, n=6)
    agent.fit(choices, np.zeros(6), log_prob)
    _, _, free, _ = agent.act(np.random.default_rng(0))
    _, _, busy, _ = agent.act(np.random.default_rng(0), pending=np.array([[0], [0], [0]]))
    assert busy[0][0] < free[0][0]


def test_factorised_heads_condition_on_earlier_choices():
    """Head 2's best choice depends on head 1's: the conditional encoding must see it."""
    rng = np.random.default_rng(0)
    n = 80
    choices = rng.integers(0, 2, size=(n, 2))
    utilities = np.where(choices[:, 0] == choices[:, 1], 1.0, -1.0)
    agent = HighLevelAgent([2, 2])
    agent.fit(choices, utilities, np.full((n, 2), np.log(0.5)))
    for first in (0, 1):
        _, _, probs, _ = agent.act(np.random.default_rng(0), fixed={0: first})
        assert np.argmax(probs[1]) == first


def test_encoder_summaries():
    enc = HistoryEncoder([2])
    for c, u in [(0, 0.5), (0, 1.0), (1, -1.0), (0, 0.2)]:
        enc.add([c], u)
    f = enc.features(0, [])
    assert f[0, 0] == 0.0 and f[1, 0] == pytest.approx(-2.0)  # best gap
    assert f[0, 2] == pytest.approx(0.75)  # budget share
    assert f[0, 4] == pytest.approx(1 / 4)  # one trial since choice 0's best, over 1 + 3


def test_discounted_returns():
    np.testing.assert_allclose(discounted_returns(np.array([1.0, 0.0, 2.0]), 0.5), [1.5, 1.0, 2.0])


def test_ppo_clipping_bounds_the_step():
    """The clipped surrogate stops pushing once ratios leave [1 - clip, 1 + clip]; without
    clipping the same 200 epochs drive the policy to near-determinism."""

    def run(clip):
        logits = torch.zeros(3, requires_grad=True)
        actions = torch.tensor([0, 1, 2] * 10)
        old = torch.full((30,), np.log(1 / 3), dtype=torch.float32)
        adv = torch.tensor(normalise(np.where(actions.numpy() == 0, 1.0, -0.5)), dtype=torch.float32)

        def evaluate():
            logp = torch.log_softmax(logits, 0)
            return logp[actions], -(logp.exp() * logp).sum().expand(30)

        ppo_update(evaluate, [logits], old, adv, clip=clip, epochs=200, lr=0.05)
        return torch.softmax(logits, 0)[0].item()

    clipped, unclipped = run(0.2), run(100.0)
    assert 1 / 3 < clipped < 0.7
    assert unclipped > 0.95


def test_elite_initialisation_centres_on_the_best_trials():
    x = np.array([[0.1], [0.2], [0.8], [0.9], [0.5], [0.45], [0.55], [0.3]])
    u = np.array([2.0, 1.5, -1.0, -2.0, 0.0, 0.1, -0.1, 0.2])
    mean, std = elite_initialisation(x, u)
    assert 0.1 <= mean[0] <= 0.2 and std[0] < 0.1


def test_low_level_moves_towards_the_critic_optimum():
    rng = np.random.default_rng(0)
    x = rng.random((30, 2))
    y = -((x[:, 0] - 0.8) ** 2 + (x[:, 1] - 0.3) ** 2)
    critic = GaussianProcessCritic(x, y, fit_kernel(x, y))
    agent = LowLevelAgent(np.array([0.5, 0.5]), np.array([0.2, 0.2]), generations=6)
    agent.improve(lambda a: critic.predict(a)[0], rng)
    assert abs(agent.mean[0] - 0.8) < 0.2 and abs(agent.mean[1] - 0.3) < 0.15
    assert np.linalg.norm(agent.mean - [0.8, 0.3]) < np.linalg.norm(np.array([0.5, 0.5]) - [0.8, 0.3])


def test_low_level_act_takes_the_best_of_its_proposals_by_the_score():
    agent = LowLevelAgent(np.array([0.5, 0.5, 0.5]), np.array([0.2, 0.2, 0.2]), n_proposals=16)
    target = np.array([0.9, 0.1, 0.6])

    def score(a):
        return -((a - target) ** 2).sum(1)

    proposals = np.clip(agent.mean + agent.std * np.random.default_rng(4).standard_normal((16, 3)), 0.0, 1.0)
    np.testing.assert_array_equal(agent.act(np.random.default_rng(4), score), proposals[np.argmax(score(proposals))])
    # without a score it is one plain draw of the policy
    plain = np.clip(agent.mean + agent.std * np.random.default_rng(4).standard_normal(3), 0.0, 1.0)
    np.testing.assert_array_equal(agent.act(np.random.default_rng(4)), plain)
    # and the pick lands nearer the score's optimum than plain draws do
    rng = np.random.default_rng(5)
    picked = np.median([np.linalg.norm(agent.act(rng, score) - target) for _ in range(50)])
    drawn = np.median([np.linalg.norm(agent.act(rng) - target) for _ in range(50)])
    assert picked < drawn


def test_critic_learns_which_strategy_shifts_the_optimum():
    rng = np.random.default_rng(0)
    n = 60
    lr = rng.random(n)
    sgd = rng.integers(0, 2, n)
    y = -((lr - np.where(sgd == 1, 0.8, 0.2)) ** 2)
    inputs = np.column_stack([lr, sgd == 0, sgd == 1]).astype(float)
    critic = GaussianProcessCritic(inputs, y, fit_kernel(inputs, y))
    grid = np.linspace(0, 1, 21)
    for code, target in (([1.0, 0.0], 0.2), ([0.0, 1.0], 0.8)):
        q = np.column_stack([grid, np.tile(code, (21, 1))])
        mean, _ = critic.predict(q)
        assert abs(grid[np.argmax(mean)] - target) <= 0.1


def test_critic_posterior_is_the_textbook_gaussian_process_posterior():
    """The fast posterior (scaled inputs, squared distances by matrix products, an inverted
    Cholesky factor) against the Matern-5/2 GP posterior written out with pairwise differences."""
    from cascaderl_optuna._cascade.critic import _JITTER
    from cascaderl_optuna._cascade.critic import _NOISE_FLOOR
    from cascaderl_optuna._cascade.critic import KernelParams

    rng = np.random.default_rng(3)
    x, xq = rng.random((40, 5)), rng.random((17, 5))
    y = rng.standard_normal(40)
    params = KernelParams(np.log([0.3, 0.5, 1.0, 2.0, 0.2]), 0.4, np.log(0.01))

    def matern(a, b):
        d = (a[:, None, :] - b[None, :, :]) / np.exp(params.log_lengthscale)
        r = np.sqrt((d**2).sum(-1))
        return np.exp(params.log_signal) * (1 + np.sqrt(5) * r + 5 / 3 * r**2) * np.exp(-np.sqrt(5) * r)

    scale = y.std()
    k = matern(x, x) + (np.exp(params.log_noise) + _NOISE_FLOOR + _JITTER) * np.eye(40)
    ks = matern(xq, x)
    mean = ks @ np.linalg.solve(k, (y - y.mean()) / scale) * scale + y.mean()
    var = np.exp(params.log_signal) - np.einsum("ij,ji->i", ks, np.linalg.solve(k, ks.T))
    got_mean, got_sd = GaussianProcessCritic(x, y, params).predict(xq)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got_sd, np.sqrt(var) * scale, rtol=1e-6, atol=1e-8)
    assert got_sd.min() > 0


def test_closed_form_gaussian_ppo_matches_autograd_ppo():
    """The low level's NumPy PPO step is the autograd PPO step, gradient for gradient."""
    from cascaderl_optuna._cascade.ppo import gaussian_ppo_update

    rng = np.random.default_rng(0)
    n, d = 40, 3
    x = rng.random((n, d))
    present = rng.random((n, d)) > 0.2
    mean0, log_std0 = np.full(d, 0.4), np.log(np.full(d, 0.2))
    old = (np.where(present, -0.5 * ((x - mean0) / 0.2) ** 2 - np.log(0.2) - 0.5 * np.log(2 * np.pi), 0)).sum(1)
    old = old + rng.normal(0, 0.1, n)  # behaviour policies differ a little
    old[:8] -= 2.0  # and some a lot (ratio ~7, far past the clipping range)
    adv = normalise(rng.standard_normal(n))
    assert np.any(adv[:8] < 0) and np.any(adv[:8] > 0)
    w = np.full(n, 1.0 / n)
    m_np, s_np, _ = gaussian_ppo_update(x, present, old, adv, w, mean0, log_std0, clip=0.2, epochs=15, lr=0.05)

    mean = torch.tensor(mean0, requires_grad=True)
    log_std = torch.tensor(log_std0, requires_grad=True)
    xt, pt = torch.tensor(x), torch.tensor(present)

    def evaluate():
        lp = -0.5 * ((xt - mean) / log_std.exp()) ** 2 - log_std - 0.5 * np.log(2 * np.pi)
        return torch.where(pt, lp, 0.0).sum(1), log_std.sum().expand(n)

    ppo_update(
        evaluate,
        [mean, log_std],
        torch.tensor(old),
        torch.tensor(adv),
        clip=0.2,
        epochs=15,
        lr=0.05,
        weights=torch.tensor(w),
    )
    np.testing.assert_allclose(m_np, mean.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(s_np, log_std.detach().numpy(), atol=1e-6)
    assert not np.allclose(m_np, mean0)  # it did move


def test_a_stale_real_trial_whose_ratio_overflows_leaves_the_last_sound_policy_and_no_warning():
    """A real trial taken by a far-away earlier policy (ratio e^500 under the current one) overflows the update:
    the agent keeps its last sound policy for that decision, and NumPy does not warn about the expected overflow."""
    import warnings

    from cascaderl_optuna._cascade.ppo import gaussian_ppo_update

    mean0, log_std0 = np.array([0.5]), np.log(np.array([0.1]))
    x = np.vstack([np.full((20, 1), 0.7), [[0.55]]])
    current = -0.5 * ((x[:, 0] - 0.5) / 0.1) ** 2 - np.log(0.1) - 0.5 * np.log(2 * np.pi)
    old = np.concatenate([current[:20], [current[20] - 800.0]])
    adv = np.concatenate([np.ones(20), [-1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, log_std, _ = gaussian_ppo_update(
            x, np.ones_like(x, dtype=bool), old, adv, np.full(21, 1 / 21), mean0, log_std0, clip=0.2, epochs=5, lr=0.05
        )
        assert not np.isfinite(mean).all() or not np.isfinite(log_std).all()  # the overflow happened
        agent = LowLevelAgent(mean0, np.exp(log_std0), generations=1)
        agent.improve(
            lambda a: -np.abs(a[:, 0] - 0.7), np.random.default_rng(0), x, np.linspace(1, 0, 21), old[:, None]
        )
    assert agent.mean[0] == 0.5 and agent.std[0] == pytest.approx(0.1)  # kept: the batch was degenerate


def test_a_kernel_fit_that_diverges_to_nan_falls_back_to_the_prior(monkeypatch):
    """L-BFGS stepped into NaN on finite data in a real study (YAHPO rbv2_xgboost 1501): NaN hyperparameters made
    every critic prediction NaN and the high level's probabilities with them (numpy raised)."""
    from cascaderl_optuna._cascade.critic import prior_kernel

    rng = np.random.default_rng(0)
    x, y = rng.random((30, 3)), rng.standard_normal(30)
    healthy = fit_kernel(x, y)
    assert np.all(np.isfinite(healthy.log_lengthscale))

    def diverging_step(self, closure):
        closure()
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    p.fill_(float("nan"))

    monkeypatch.setattr(torch.optim.LBFGS, "step", diverging_step)
    params = fit_kernel(x, y)
    prior = prior_kernel(3)
    np.testing.assert_array_equal(params.log_lengthscale, prior.log_lengthscale)
    assert (params.log_signal, params.log_noise) == (prior.log_signal, prior.log_noise)
    mean, sd = GaussianProcessCritic(x, y, params).predict(rng.random((5, 3)))
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(sd))


_HEADS = [
    StrategicParam("optimizer", CategoricalDistribution(["adamw", "sgd", "adafactor"])),
    StrategicParam("scheduler", CategoricalDistribution(["cosine", "linear"])),
]


def _recording_critic(seen):
    def predict(rows):
        seen.append(rows.copy())
        return rows.sum(1), np.ones(len(rows))

    return predict


def test_optimistic_score_builds_the_rows_critic_input_builds():
    seen = []
    actions = np.random.default_rng(0).random((5, 2))
    optimistic_score(_recording_critic(seen), strategy_code([2, 1], _HEADS), 1.0)(actions)
    assert np.array_equal(seen[0], critic_input(actions, np.array([[2, 1]] * 5), _HEADS))


def test_critic_gap_function_writes_the_codes_critic_input_builds():
    rng = np.random.default_rng(0)
    units = rng.random((4, 2))
    candidates = critic_input(units, np.array([[0, 1], [1, 0], [2, 1], [0, 0]]), _HEADS)
    seen = []
    gap = critic_gap_function(_recording_critic(seen), candidates, 2, [h.n_choices for h in _HEADS], 0.0)
    gap(1, [2])  # head 1's choices, with head 0 fixed at its choice 2
    for c in range(_HEADS[1].n_choices):
        block = seen[0][c * len(units) : (c + 1) * len(units)]
        assert np.array_equal(block, critic_input(units, np.array([[2, c]] * len(units)), _HEADS))
