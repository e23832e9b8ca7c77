"""The low-level agents: one Gaussian policy over the tactical unit cube per strategy.

A low-level agent is created for the strategy the high-level agent chose, and holds a diagonal
Gaussian ``N(mean, diag(std^2))`` over the tactical parameters in [0, 1] (values outside are
clipped when mapped onto the distributions). Few parameters (a mean and a scale per dimension),
as small-data policy search needs.

1. **Initialise from the strategy's best trials.** The mean is the rank-weighted mean of the
   strategy's elite trials (the top quarter, at least two) and the scale their spread, clipped to
   ``[MIN_STD, MAX_STD]``. A strategy with too little data of its own starts from the elite of all
   trials, weighted towards those that share more of its strategic choices.
2. **PPO on imagined and real actions.** Each of ``generations`` (8) rounds samples ``n_imagined`` (64)
   actions from the current policy, scores them with the critic (GP posterior mean plus ``beta``
   times its standard deviation: optimism where the critic is unsure), and runs the clipped
   surrogate update with those scores as returns against a value baseline (their mean). The
   strategy's real trials join the batch with their observed utilities and their stored behaviour
   log-probabilities, so the update also answers to what really happened. The clipping is the
   trust region: each round moves the policy only so far from the one that sampled the batch.
3. **Act: the policy proposes, the critic picks.** The updated policy draws ``n_proposals`` (64)
   candidates and the trial takes the one the critic scores highest (the same optimistic score the
   PPO rounds used). Why: a single draw of a diagonal Gaussian lands about ``std * sqrt(dim)`` from
   its mean, so in ten dimensions one sample wastes most of what the policy and the critic know;
   choosing among the policy's own proposals is how Bayesian optimisation exploits its model (by
   optimising the acquisition), restricted to the region the policy trusts (the held-out benchmark
   comparison of the two is in ``docs/benchmarks.md``). The stored log-probabilities are those of the taken action
   under the Gaussian policy (the proposal distribution), which is what later PPO updates re-score.

The agent knows nothing of Optuna: it takes arrays and a scoring function.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import math

import numpy as np

from cascaderl_optuna._cascade.ppo import gaussian_ppo_update
from cascaderl_optuna._cascade.ppo import normalise
from cascaderl_optuna._cascade.ppo import PPOStats


MIN_STD = 0.01
MAX_STD = 0.3
ELITE_FRACTION = 0.25
N_PROPOSALS = 64
MIN_LOG_PROB = -1e4
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_log_prob(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Per-dimension log-density of ``x`` under ``N(mean, std^2)`` (any leading shape)."""
    z = (x - mean) / std
    return -0.5 * z**2 - np.log(std) - _LOG_SQRT_2PI


def elite_initialisation(
    x: np.ndarray, utilities: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of the elite trials; NaN entries (absent parameters) are ignored."""
    dim = x.shape[1]
    if len(x) == 0:
        return np.full(dim, 0.5), np.full(dim, MAX_STD)
    w_ctx = np.ones(len(x)) if weights is None else weights
    order = np.argsort(-(utilities + np.log(np.maximum(w_ctx, 1e-12))), kind="stable")
    n_elite = max(2, int(math.ceil(ELITE_FRACTION * len(x))))
    elite = order[:n_elite]
    rank_w = np.log(n_elite + 0.5) - np.log(np.arange(1, len(elite) + 1))
    rank_w = rank_w * w_ctx[elite]
    xe = x[elite]
    present = ~np.isnan(xe)
    wmat = np.where(present, rank_w[:, None], 0.0)
    wsum = wmat.sum(0)
    mean = np.where(wsum > 0, np.nansum(np.nan_to_num(xe, nan=0.0) * wmat, 0) / np.maximum(wsum, 1e-12), 0.5)
    var = np.where(
        wsum > 0,
        (wmat * (np.nan_to_num(xe, nan=0.0) - mean) ** 2).sum(0) / np.maximum(wsum, 1e-12),
        MAX_STD**2,
    )
    n_present = present.sum(0)
    std = np.where(n_present >= 2, np.sqrt(var), MAX_STD)
    return mean, np.clip(std, MIN_STD * 2, MAX_STD)


class LowLevelAgent:
    """Diagonal Gaussian policy over the tactical unit cube of one strategy."""

    def __init__(
        self,
        mean: np.ndarray,
        std: np.ndarray,
        *,
        clip: float = 0.2,
        epochs: int = 8,
        lr: float = 0.05,
        generations: int = 8,
        n_imagined: int = 64,
        real_weight: float = 0.3,
        n_proposals: int = N_PROPOSALS,
    ) -> None:
        self.mean = np.asarray(mean, dtype=float).copy()
        self.std = np.clip(np.asarray(std, dtype=float), MIN_STD, MAX_STD)
        self.clip = clip
        self.epochs = epochs
        self.lr = lr
        self.generations = generations
        self.n_imagined = n_imagined
        self.real_weight = real_weight
        self.n_proposals = n_proposals
        self.stats = PPOStats()

    @property
    def dim(self) -> int:
        return len(self.mean)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Per-dimension log-probabilities of ``x`` (``(..., dim)``) under the policy."""
        return np.maximum(gaussian_log_prob(x, self.mean, self.std), MIN_LOG_PROB)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws of the policy, clipped to the unit cube (the imagined actions and the proposals).

        Clipping puts the mass beyond a face onto it. A policy truncated to the cube instead (out-of-cube
        values re-drawn) was tried and not adopted.
        """
        return np.clip(self.mean + self.std * rng.standard_normal((n, self.dim)), 0.0, 1.0)

    def improve(
        self,
        score: Callable[[np.ndarray], np.ndarray],
        rng: np.random.Generator,
        real_x: np.ndarray | None = None,
        real_utility: np.ndarray | None = None,
        real_log_prob: np.ndarray | None = None,
    ) -> PPOStats:
        """PPO rounds on critic-scored imagined actions plus the strategy's real trials.

        Args:
            score: maps ``(M, dim)`` unit-cube actions to estimated returns.
            real_x: ``(m, dim)`` actions of real trials (NaN where a trial lacks a parameter).
            real_utility: ``(m,)`` their utilities.
            real_log_prob: ``(m, dim)`` their behaviour log-probabilities (NaN: unknown, then
                the current policy is taken as the behaviour policy).
        """
        if self.dim == 0 or self.generations <= 0:
            return self.stats
        has_real = real_x is not None and len(real_x) >= 2
        if has_real:
            assert real_x is not None and real_utility is not None and real_log_prob is not None
            real_present = ~np.isnan(real_x)
            rx = np.where(real_present, real_x, 0.0)
            behaviour = np.where(np.isnan(real_log_prob), self.log_prob(rx), real_log_prob)
            real_old = np.where(real_present, behaviour, 0.0).sum(1)
            real_adv = normalise(real_utility - real_utility.mean())
        for _ in range(self.generations):
            imagined = self.sample(rng, self.n_imagined)
            returns = score(imagined)
            # Value baseline: the critic's mean return under the current policy.
            advantages = normalise(returns - returns.mean())
            old = self.log_prob(imagined).sum(1)
            n_img = len(imagined)
            weights = np.full(n_img, (1.0 - self.real_weight * has_real) / n_img)
            actions, present = imagined, np.ones_like(imagined, dtype=bool)
            if has_real:
                actions = np.vstack([imagined, rx])
                present = np.vstack([present, real_present])
                old = np.concatenate([old, real_old])
                advantages = np.concatenate([advantages, real_adv])
                weights = np.concatenate([weights, np.full(len(rx), self.real_weight / len(rx))])
            new_mean, new_log_std, self.stats = gaussian_ppo_update(
                actions,
                present,
                old,
                advantages,
                weights,
                self.mean,
                np.log(self.std),
                clip=self.clip,
                epochs=self.epochs,
                lr=self.lr,
            )
            self.stats.v_loss = float(np.mean((returns - returns.mean()) ** 2))
            new_std = np.exp(new_log_std)
            if not (np.all(np.isfinite(new_mean)) and np.all(np.isfinite(new_std))):
                break  # a degenerate batch: keep the last sound policy
            self.mean = new_mean.clip(0.0, 1.0)
            self.std = new_std.clip(MIN_STD, MAX_STD)
        return self.stats

    def act(self, rng: np.random.Generator, score: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """One action in the unit cube: the best of ``n_proposals`` policy samples by ``score``.

        Without a score (or with one proposal) it is a plain sample of the policy.
        """
        if score is None or self.n_proposals <= 1:
            return self.sample(rng, 1)[0]
        proposals = self.sample(rng, self.n_proposals)
        return proposals[int(np.argmax(score(proposals)))]


# -- where a strategy's agent starts, and what it optimises ----------------------------------------
MIN_CONTEXT_TRIALS_ALONE = 8
"""Below this much similar data (the sum of the similarity weights) the start is mostly borrowed."""
BORROWED_MIN_STD = 0.07
"""The least spread of a start borrowed from other strategies' trials: borrowed knowledge is uncertain."""
MAX_REAL_BATCH = 50
"""The strategy's most recent real trials that join each PPO batch (bounds the cost per trial)."""


def strategy_start(x: np.ndarray, utilities: np.ndarray, similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread a strategy's low-level agent starts from.

    The elite of all trials, each weighted by how much its strategy behaves like the chosen one
    in the critic's eyes (its kernel on the strategy code: a head whose length scale is long,
    because it barely changes the landscape, barely separates trials). With little similar data
    the agent borrows more, and explores wider.
    """
    mean, std = elite_initialisation(x, utilities, similarity)
    if similarity.sum() < MIN_CONTEXT_TRIALS_ALONE:
        std = np.maximum(std, BORROWED_MIN_STD)
    return mean, std


def same_strategy(choices: np.ndarray, chosen: Sequence[int]) -> np.ndarray:
    """``(n,)`` whether each trial ran the chosen strategy (a head it lacks does not disagree)."""
    if choices.shape[1] == 0 or len(choices) == 0:
        return np.ones(len(choices), dtype=bool)
    return ((choices == np.array(chosen)[None, :]) | (choices < 0)).all(1)


def optimistic_score(
    predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], strategy_code: np.ndarray, beta: float
) -> Callable[[np.ndarray], np.ndarray]:
    """``actions -> mean + beta * std`` of the critic at (actions, the strategy's code): what the
    agent's PPO update and its choice among proposals maximise. The rows are ``coordinates.critic_input``'s layout,
    built directly from ``strategy_code`` (``coordinates.strategy_code``) on this hot path."""

    def score(actions: np.ndarray) -> np.ndarray:
        mu, sd = predict(np.hstack([actions, np.repeat(strategy_code[None, :], len(actions), 0)]))
        return mu + beta * sd

    return score
