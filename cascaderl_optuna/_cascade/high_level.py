"""The high-level agent: a factorised categorical policy over the strategic parameters.

Policy. For head ``k`` (one strategic parameter) and choice ``c``::

    logit[k, c] = b[k, c] + theta . phi[k, c](history, earlier choices)
    pi[k, c]    = (1 - floor) * softmax(logit[k])[c] + floor / n_choices[k]

``phi`` is the state encoding of :mod:`cascaderl_optuna._cascade.encoding` (per-choice best, mean, budget
share, uncertainty, stagnation, pending share, recent share, and the critic's optimistic gap), computed on the trials
that agree
with the choices already made for heads ``< k``, so the joint distribution over strategies is a
product of conditionals instead of an enumeration of all combinations. ``theta`` is shared by
every head and choice (8 numbers), ``b`` is one bias per choice: few parameters, as small-data
policy search needs. ``theta`` starts from ``DEFAULT_THETA`` (a UCB-like prior: prefer the best,
reward uncertainty, avoid what is pending) or from pre-trained weights.

The floor is a probability margin: no strategy's probability ever reaches zero, whatever the
logits, so an early unlucky family keeps a small, bounded share of the budget.

The tuning share keeps a choice from being judged before its numbers are tuned. A choice with
few trials of its own has been tried at tactical values borrowed from other strategies (its
low level starts from their elite), and a family whose best learning rate sits elsewhere looks
worse there than a tuned runner-up; trial utilities cannot tell "not yet tuned" from "inferior",
and neither can the logits learned from them. So while a choice of head ``k`` has fewer than
:data:`TUNING_TRIALS` trials in the window (the encoder's count), it is *untuned*, and a share
``m[k] = TUNING_SHARE * (untuned choices of k) / n_choices[k]`` of the head's probability goes to
the untuned choices, ``q[k]`` in proportion to each one's missing trials. Once every choice has
its trials the head is the floored softmax alone, and the comparison is between tuned families.
A study warm-started from an earlier one counts the earlier study's trials of each choice too
(:mod:`cascaderl_optuna._cascade.warm_start`).

The share is kept only on the *decisive head* (:func:`decisive_head`): the head whose tried
choices' best utilities differ most in the window, such as the optimizer family, whose choices
move the best reachable value and so the best learning rate. A head whose choices only add an
offset (a schedule, a batch size, a LoRA rank) is judged fairly at borrowed numbers, and spreading
its trials evenly cost the small budgets most: with eight heads of 3-5 choices, every choice's 16
trials took about 80 trials before any concentration. Until two choices of one head were tried,
every head keeps its share.
The share is part of the policy: PPO re-scores stored actions under it, and the stored
behaviour log-probabilities include it.

Learning. Each trial is one step of a sequential decision process: the action is the trial's
strategy, the reward is its rank utility, the return is the discounted sum of later rewards in
the window (``gamma``). The PPO update (:func:`cascaderl_optuna._cascade.ppo.ppo_update`) re-scores every
stored action under the current parameters, against the behaviour log-probability stored when the
action was taken (uniform when another sampler or the space-filling start chose it). The
parameters are re-fitted from the prior on the bounded window each time, so the policy is a
deterministic function of the stored history.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence

import numpy as np
import torch

from cascaderl_optuna._cascade.encoding import CRITIC_GAP
from cascaderl_optuna._cascade.encoding import HistoryEncoder
from cascaderl_optuna._cascade.encoding import N_FEATURES
from cascaderl_optuna._cascade.encoding import UNCERTAINTY
from cascaderl_optuna._cascade.history import discounted_returns
from cascaderl_optuna._cascade.ppo import normalise
from cascaderl_optuna._cascade.ppo import ppo_update
from cascaderl_optuna._cascade.ppo import PPOStats
from cascaderl_optuna._cascade.ppo import value_baseline


def floored_softmax(logits: torch.Tensor, floor: float, n_choices: float | torch.Tensor) -> torch.Tensor:
    """``(1 - floor) * softmax(logits) + floor / n_choices`` over the last axis: the policy of a head.

    The floor is a probability margin: whatever the logits, no choice falls below
    ``floor / n_choices``. ``n_choices`` broadcasts against ``logits`` (one count per head when
    heads are padded to a common width; padded entries must then be masked by the caller).
    """
    return (1 - floor) * torch.softmax(logits, dim=-1) + floor / n_choices


TUNING_TRIALS = 16
"""Trials of its own a strategic choice gets before it is left to the learned policy and the floor.

Enough for its low level to stand on its own data (it stops borrowing other strategies' elite at
about half of this, see ``low_level.MIN_CONTEXT_TRIALS_ALONE``) and then move its numbers towards
its own optimum: with 8, a family whose best learning rate sat a decade from the runner-up's was
still judged on borrowed values in the benchmark's trap instances (``docs/benchmarks.md``)."""
TUNING_SHARE = 0.5
"""The most of a head's probability that goes to its untuned choices (when all of them are)."""


def tuning_share(
    uncertainty: torch.Tensor, valid: torch.Tensor, tuned_elsewhere: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(m, q)`` of the tuning share from the encoder's ``uncertainty`` feature of each choice.

    ``uncertainty`` is ``1 / sqrt(1 + count)``, so the count is recovered exactly; ``valid`` masks
    padded choices. ``m`` (``(..., 1)``): the share of the head's probability for its untuned
    choices; ``q`` (same shape as ``uncertainty``): how it is split, by missing trials.
    ``tuned_elsewhere`` (broadcast against ``uncertainty``): trials each choice had in an earlier
    study that warm-starts this one (``warm_start.WarmStart.tuned_counts``); they count as its own.
    """
    # a count, so an integer: rounded, because 1 / (1 / sqrt(1 + c))^2 - 1 comes back a hair below c for some c (13,
    # 24, ...), and with a warm start's counts added a choice at exactly TUNING_TRIALS would keep a missing 1e-15 of
    # a trial: counted untuned, it took a share that its q (missing / sum of missing, at most 1e-3) did not hand out,
    # so the head's probabilities summed to less than 1 in the PPO fit
    count = torch.round(1.0 / uncertainty.clamp_min(1e-6) ** 2 - 1.0)
    if tuned_elsewhere is not None:
        count = count + tuned_elsewhere
    missing = torch.where(valid, (TUNING_TRIALS - count).clamp_min(0.0), 0.0)
    untuned = (missing > 0).to(missing.dtype).sum(-1, keepdim=True)
    m = TUNING_SHARE * untuned / valid.to(missing.dtype).sum(-1, keepdim=True)
    q = missing / missing.sum(-1, keepdim=True).clamp_min(1e-12)
    return m, q


def head_policy(
    logits: torch.Tensor,
    uncertainty: torch.Tensor,
    valid: torch.Tensor,
    floor: float,
    n_choices,
    tuned_elsewhere: torch.Tensor | None = None,
    keep_tuning_share: bool = True,
    share_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The probabilities of a head's choices: the floored softmax, with the tuning share mixed in (unless
    ``keep_tuning_share`` is false: the floored softmax alone)."""
    floored = torch.where(valid, floored_softmax(logits.masked_fill(~valid, -torch.inf), floor, n_choices), 0.0)
    if not keep_tuning_share:
        return floored
    m, q = tuning_share(uncertainty, valid, tuned_elsewhere)
    if share_mask is not None:
        m = m * share_mask
    return (1 - m) * floored + m * q


def decisive_head(choices: np.ndarray, utilities: np.ndarray, n_choices: Sequence[int]) -> int | None:
    """The head whose tried choices' best utilities differ most in the window (``None`` before two choices of any
    head were tried): the head whose choice moves the best reachable value, such as the optimizer family.

    The warm start picks the earlier study's decisive head by the same statistic
    (``warm_start.WarmStart.decisive_head``; its ties go to the first name in alphabetical order). ``choices`` is
    ``(n, K)``, ``utilities`` ``(n,)``; ties go to the first head, and an all-tied window (spread 0) still picks
    head 0.

    Known weakness (a review after `61b2b87`): where every head is present, every head's best choice holds the overall
    best trial, so the spread is "overall best minus the best of the head's worst choice", which grows with the
    head's number of choices and with how few trials its rarest choice had. In random windows over eight heads the
    family with a real effect was picked in 37% of draws at 40 trials, 68% at 80. The measured benefit of the design
    stands; the statistic is the first thing to replace (benchmarks/FINDINGS.md).
    """
    spreads = []
    for k, n_c in enumerate(n_choices):
        col = choices[:, k]
        best = [utilities[col == c].max() for c in range(n_c) if (col == c).any()]
        spreads.append(max(best) - min(best) if len(best) > 1 else -np.inf)
    if not spreads or max(spreads) == -np.inf:
        return None
    return int(np.argmax(spreads))


DEFAULT_THETA = np.array([0.5, 0.5, 0.0, 1.0, -0.5, -1.0, 0.0, 1.5])
assert DEFAULT_THETA.shape == (N_FEATURES,)


class HighLevelAgent:
    """Chooses one index per strategic head. Knows nothing of Optuna: arrays in, actions out.

    Besides :class:`~cascaderl_optuna._cascade.agent_protocols.HighLevelPolicy` (what the sampler calls), a subclass
    may change ``encoder``, ``head_probabilities``, ``keep_tuning_share`` and ``share_on_decisive_head_only``: the
    extension points documented in
    :mod:`cascaderl_optuna._cascade.agent_protocols` (``benchmarks/ablations.py`` uses each).
    """

    keep_tuning_share: bool = True
    """Ablation seam (``benchmarks/ablations.py``, ``no_tuning_share``): a subclass that sets it false has the learned
    floored softmax alone as its policy, in acting and in the PPO re-scoring alike."""
    share_on_decisive_head_only: bool = True
    """Ablation seam (``benchmarks/ablations.py``, ``share_every_head``): a subclass that sets it false keeps the tuning
    share on every head, as the cascade did before the share was narrowed to the decisive head."""

    def __init__(
        self,
        n_choices: Sequence[int],
        *,
        theta_prior: np.ndarray | None = None,
        floor: float = 0.15,
        gamma: float = 0.3,
        clip: float = 0.2,
        epochs: int = 10,
        lr: float = 0.1,
        prior_strength: float = 0.05,
        tuned_elsewhere: np.ndarray | None = None,
    ) -> None:
        self.n_choices = list(n_choices)
        self.floor = floor
        self.gamma = gamma
        self.clip = clip
        self.epochs = epochs
        self.lr = lr
        self.prior_strength = prior_strength
        self._theta_prior = torch.tensor(DEFAULT_THETA if theta_prior is None else theta_prior, dtype=torch.float64)
        self._c_max = max(self.n_choices) if self.n_choices else 1
        mask = torch.zeros(len(self.n_choices), self._c_max, dtype=torch.bool)
        for k, c in enumerate(self.n_choices):
            mask[k, :c] = True
        self._mask = mask
        self._n_per_head = torch.tensor(self.n_choices, dtype=torch.float64)
        self.theta = self._theta_prior.clone()
        self.bias = torch.zeros(len(self.n_choices), self._c_max, dtype=torch.float64)
        self.encoder = HistoryEncoder(self.n_choices)  # an extension point: a subclass may replace it
        self.stats = PPOStats()
        self._decisive: int | None = None  # the head that keeps the tuning share (``decisive_head``)
        # (K, c_max) trials of each choice in an earlier study (warm start): they count towards its tuning trials
        self._tuned_elsewhere = None if tuned_elsewhere is None else torch.tensor(tuned_elsewhere, dtype=torch.float64)

    # -- the policy -------------------------------------------------------------------------
    def _probs(self, features: torch.Tensor, bias: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Floored probabilities; ``features`` is ``(..., K, c_max, F)``."""
        valid = self._mask.expand(features.shape[:-1])
        logits = bias + features @ theta
        return head_policy(
            logits,
            features[..., UNCERTAINTY],
            valid,
            self.floor,
            self._n_per_head[:, None],
            self._tuned_elsewhere,
            self.keep_tuning_share,
            self._share_mask()[:, None],
        )

    def _share_mask(self) -> torch.Tensor:
        """``(K,)``: 1 for a head that keeps its tuning share (the decisive head; every head before one is known, or
        when ``share_on_decisive_head_only`` is false), 0 for the others."""
        if self._decisive is None or not self.share_on_decisive_head_only:
            return torch.ones(len(self.n_choices), dtype=torch.float64)
        mask = torch.zeros(len(self.n_choices), dtype=torch.float64)
        mask[self._decisive] = 1.0
        return mask

    # -- learning ---------------------------------------------------------------------------
    def fit(
        self,
        choices: np.ndarray,
        utilities: np.ndarray,
        behaviour_log_prob: np.ndarray,
        critic_gaps: np.ndarray | None = None,
    ) -> PPOStats:
        """Replay the window through the encoder and run the PPO update.

        Args:
            choices: ``(n, K)`` chosen indices, ``-1`` where a trial lacks a head.
            utilities: ``(n,)`` rank utilities of the trials (the rewards).
            behaviour_log_prob: ``(n, K)`` stored log-probabilities; NaN where unknown.
            critic_gaps: ``(n, K, max choices)`` the ``critic_gap`` feature each decision saw;
                NaN (read as 0) where the decision was not the agent's.
        """
        n, n_heads = choices.shape
        self._decisive = decisive_head(choices, utilities, self.n_choices)
        rows = choices.tolist()  # Python ints: the replay below is the agent's hot loop
        encoder = self.encoder
        # Nested lists, converted to arrays once: heads with fewer choices are padded with the
        # zero rows of the choices they lack.
        padding = [[[0.0] * N_FEATURES for _ in range(self._c_max - c)] for c in self.n_choices]
        feature_list, state_list = [], []
        for t, row in enumerate(rows):
            feature_list.append([encoder.feature_rows(k, row[:k]) + padding[k] for k in range(n_heads)])
            state_list.append(encoder.value_state())
            encoder.add(row, float(utilities[t]))
        features = np.array(feature_list, dtype=float).reshape(n, n_heads, self._c_max, N_FEATURES)
        states = np.array(state_list, dtype=float).reshape(n, 3)
        if critic_gaps is not None:
            features[:, :, :, CRITIC_GAP] = np.nan_to_num(critic_gaps[:, :, : self._c_max], nan=0.0)
        present = choices >= 0
        usable = present.any(axis=1)
        if usable.sum() < 2:
            return self.stats
        returns = discounted_returns(utilities, self.gamma)
        values, v_loss, explained = value_baseline(states, returns)
        advantages = torch.tensor(normalise((returns - values)[usable]))
        old = np.where(np.isnan(behaviour_log_prob), -np.log(self.n_choices)[None, :], behaviour_log_prob)
        old_log_prob = torch.tensor(np.where(present, old, 0.0).sum(axis=1)[usable])
        f = torch.tensor(features[usable])
        idx = torch.tensor(np.where(present, choices, 0)[usable], dtype=torch.long)
        pres = torch.tensor(present[usable])
        bias = self.bias.clone().requires_grad_(True)
        theta = self.theta.clone().requires_grad_(True)

        def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
            probs = self._probs(f, bias, theta)
            chosen = probs.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
            log_prob = torch.where(pres, chosen.log(), torch.zeros_like(chosen)).sum(-1)
            plogp = torch.where(self._mask, probs * probs.clamp_min(1e-300).log(), 0.0)
            entropy = -(plogp.sum(-1) * pres).sum(-1)
            return log_prob, entropy

        def regulariser() -> torch.Tensor:
            return self.prior_strength * ((bias**2).sum() + ((theta - self._theta_prior) ** 2).sum())

        self.stats = ppo_update(
            evaluate,
            [bias, theta],
            old_log_prob,
            advantages,
            clip=self.clip,
            epochs=self.epochs,
            lr=self.lr,
            regulariser=regulariser,
        )
        self.stats.v_loss = v_loss
        self.stats.explained_variance = explained
        self.bias = bias.detach()
        self.theta = theta.detach()
        return self.stats

    def observe(self, choices: np.ndarray, utilities: np.ndarray) -> None:
        """Replay the window through the encoder only, keeping the weights: what ``act`` needs
        when the weights were fitted earlier (see ``CascadeSampler``'s high-level refit points)."""
        self._decisive = decisive_head(choices, utilities, self.n_choices)
        encoder = self.encoder
        for row, utility in zip(choices.tolist(), utilities.tolist()):
            encoder.add(row, float(utility))

    # -- acting -----------------------------------------------------------------------------
    def head_probabilities(self, k: int, phi: np.ndarray) -> np.ndarray:
        """The policy of head ``k`` given its feature matrix ``phi`` (``(n_choices[k], F)``), as ``act`` samples it.

        An extension point (see :mod:`~cascaderl_optuna._cascade.agent_protocols`): a subclass overrides it to act by
        another policy; ``fit`` does not call it."""
        with torch.no_grad():
            phi_t = torch.tensor(phi)
            logits = self.bias[k, : self.n_choices[k]] + phi_t @ self.theta
            valid = torch.ones(self.n_choices[k], dtype=torch.bool)
            elsewhere = None if self._tuned_elsewhere is None else self._tuned_elsewhere[k, : self.n_choices[k]]
            return head_policy(
                logits,
                phi_t[:, UNCERTAINTY],
                valid,
                self.floor,
                self.n_choices[k],
                elsewhere,
                self.keep_tuning_share,
                self._share_mask()[k],
            ).numpy()

    def act(
        self,
        rng: np.random.Generator,
        pending: np.ndarray | None = None,
        fixed: dict[int, int] | None = None,
        critic_gap: Callable[[int, list[int]], np.ndarray] | None = None,
    ) -> tuple[list[int], list[float], list[np.ndarray], list[np.ndarray]]:
        """Sample one choice per head, each conditioned on the earlier ones.

        Args:
            pending: ``(m, K)`` choices of RUNNING trials (``-1`` where absent).
            fixed: head index -> choice already fixed for this trial (enqueued values).
            critic_gap: ``(k, earlier choices) -> (n_choices[k],)`` the critic's gap feature.

        Returns:
            chosen indices, their log-probabilities, each head's probability vector and the
            critic gaps it saw (store them with the decision).
        """
        gaps_out: list[np.ndarray] = []
        chosen: list[int] = []
        log_probs: list[float] = []
        probs_out: list[np.ndarray] = []
        fixed = fixed or {}
        for k, n_c in enumerate(self.n_choices):
            pend = None
            if pending is not None and len(pending):
                col = pending[:, k]
                pend = np.bincount(col[col >= 0], minlength=n_c)[:n_c].astype(float)
            phi_np = self.encoder.features(k, chosen, pend)
            if critic_gap is not None:
                phi_np[:, CRITIC_GAP] = critic_gap(k, chosen)
            gaps_out.append(phi_np[:, CRITIC_GAP].copy())
            p_np = self.head_probabilities(k, phi_np)
            p_np = p_np / p_np.sum()
            c = fixed[k] if k in fixed else int(rng.choice(n_c, p=p_np))
            chosen.append(c)
            log_probs.append(float(np.log(p_np[c])))
            probs_out.append(p_np)
        return chosen, log_probs, probs_out, gaps_out
