"""The PPO step shared by both levels of the cascade (CleanRL's shape, on small policies).

One function, :func:`ppo_update`, does the clipped-surrogate update; :func:`value_baseline`
fits the value baseline the advantages are measured against. Both agents call them with their own
``evaluate`` closure, which re-scores the stored actions under the current parameters with the same
code that sampled them (CleanRL's ``get_action_and_value`` idea).

The low level's diagonal Gaussian has closed-form score functions, so its update,
:func:`gaussian_ppo_update`, is the same clipped surrogate with the gradient written out in NumPy
(an order of magnitude cheaper than autograd on such small arrays; a test checks that both give the
same step).

The policies here have few parameters (logits and feature weights for the high level; a mean and
a scale per strategy for the low level), so each update is a handful of full-batch Adam steps on
tensors of a few hundred numbers. The value baseline is linear in a small state encoding and is
fitted in closed form (ridge regression) before the policy epochs, so the advantages
``A = G - V(s)`` are fixed during the epochs, as in PPO; they are then normalised.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class PPOStats:
    """Diagnostics of one update, in CleanRL's names (logged by the observability callbacks)."""

    pg_loss: float = 0.0
    v_loss: float = 0.0
    entropy: float = 0.0
    approx_kl: float = 0.0
    clipfrac: float = 0.0
    explained_variance: float = 0.0
    n_samples: int = 0

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items()}


def value_baseline(states: np.ndarray, returns: np.ndarray, ridge: float = 1.0) -> tuple[np.ndarray, float, float]:
    """Fit ``V(s) = w . s`` to the returns by ridge regression.

    Returns the fitted values, the value loss (mean squared error) and the explained variance.
    ``states`` should contain a constant column so the baseline can at least learn the mean.
    """
    if len(returns) == 0:
        return np.zeros(0), 0.0, 0.0
    a = states.T @ states + ridge * np.eye(states.shape[1])
    w = np.linalg.solve(a, states.T @ returns)
    values = states @ w
    v_loss = float(np.mean((values - returns) ** 2))
    var = float(np.var(returns))
    explained = 1.0 - float(np.var(returns - values)) / var if var > 0 else 0.0
    return values, v_loss, explained


def normalise(advantages: np.ndarray) -> np.ndarray:
    """Advantage normalisation (zero mean, unit scale); a constant batch gives zeros."""
    if len(advantages) < 2:
        return np.zeros_like(advantages)
    std = advantages.std()
    if std < 1e-12:
        return np.zeros_like(advantages)
    return (advantages - advantages.mean()) / std


def surrogate_loss(ratio, advantages, clip: float, xp=torch):
    """Per-sample clipped PPO loss: minus the clipped surrogate.

    ``xp`` is the array module (torch for :func:`ppo_update`, NumPy for :func:`gaussian_ppo_update`).
    """
    return xp.maximum(-advantages * ratio, -advantages * ratio.clip(1.0 - clip, 1.0 + clip))


def ppo_update(
    evaluate: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    parameters: Sequence[torch.Tensor],
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip: float,
    epochs: int,
    lr: float,
    regulariser: Callable[[], torch.Tensor] | None = None,
    weights: torch.Tensor | None = None,
) -> PPOStats:
    """Clipped-surrogate PPO epochs over one batch; updates ``parameters`` in place.

    Args:
        evaluate: returns ``(log_prob, entropy)`` of the batch's stored actions under the
            current parameters.
        parameters: the policy tensors (``requires_grad=True``).
        old_log_prob: log-probability of each action under the policy that took it.
        advantages: normalised advantages, fixed during the epochs.
        clip: PPO's epsilon; the ratio is clipped to ``[1 - clip, 1 + clip]``.
        regulariser: an extra loss (e.g. a pull towards the prior), added every step.
        weights: optional per-sample weights of the surrogate (default: uniform).
    """
    stats = PPOStats(n_samples=int(advantages.shape[0]))
    if stats.n_samples == 0 or epochs <= 0:
        return stats
    if weights is None:
        weights = torch.full_like(advantages, 1.0 / advantages.shape[0])
    optimiser = torch.optim.Adam(list(parameters), lr=lr)
    for _ in range(epochs):
        log_prob, entropy = evaluate()
        pg_loss = (weights * surrogate_loss((log_prob - old_log_prob).exp(), advantages, clip)).sum()
        loss = pg_loss
        if regulariser is not None:
            loss = loss + regulariser()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        log_prob, entropy = evaluate()
        log_ratio = log_prob - old_log_prob
        ratio = log_ratio.exp()
        stats.pg_loss = float((weights * surrogate_loss(ratio, advantages, clip)).sum())
        stats.entropy = float(entropy.mean())
        stats.approx_kl = float(((ratio - 1) - log_ratio).mean())
        stats.clipfrac = float(((ratio - 1.0).abs() > clip).float().mean())
    return stats


_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8


@np.errstate(over="ignore", invalid="ignore")  # see the docstring's last paragraph
def gaussian_ppo_update(
    actions: np.ndarray,
    present: np.ndarray,
    old_log_prob: np.ndarray,
    advantages: np.ndarray,
    weights: np.ndarray,
    mean: np.ndarray,
    log_std: np.ndarray,
    *,
    clip: float,
    epochs: int,
    lr: float,
) -> tuple[np.ndarray, np.ndarray, PPOStats]:
    """:func:`ppo_update` for a diagonal Gaussian policy, with the gradient in closed form.

    ``log pi(x) = sum_j present_j * (-(x_j - mean_j)^2 / (2 std_j^2) - log std_j - log sqrt(2 pi))``.
    The clipped surrogate's gradient flows through a sample only while its ratio is inside the
    clipping range on the side its advantage pushes (exactly as autograd sees ``max`` and
    ``clamp``). Adam, as in :func:`ppo_update`.

    The low level re-scores the study's real trials, taken by earlier policies, under each new
    policy: a trial far from the policy that took it but near the current one can have a ratio
    beyond what a float holds. Its gradient is then not finite, and so are the updated
    parameters; :meth:`LowLevelAgent.improve` sees that and keeps its last sound policy. That
    overflow is expected, so NumPy is told not to warn about it.
    """
    mean, log_std = mean.astype(float).copy(), log_std.astype(float).copy()
    stats = PPOStats(n_samples=len(advantages))
    if len(advantages) == 0 or epochs <= 0:
        return mean, log_std, stats
    mask = present.astype(float)
    x = np.where(present, actions, 0.0)
    params = [mean, log_std]
    m1 = [np.zeros_like(mean), np.zeros_like(log_std)]
    m2 = [np.zeros_like(mean), np.zeros_like(log_std)]
    b1, b2 = _ADAM_BETAS

    def log_prob_and_scores() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        std = np.exp(log_std)
        z = (x - mean) / std
        log_prob = (mask * (-0.5 * z**2 - log_std - 0.5 * np.log(2 * np.pi))).sum(1)
        return log_prob, mask * z / std, mask * (z**2 - 1.0)

    for step in range(1, epochs + 1):
        log_prob, d_mean, d_log_std = log_prob_and_scores()
        ratio = np.exp(log_prob - old_log_prob)
        active = np.where(advantages > 0, ratio <= 1.0 + clip, ratio >= 1.0 - clip)
        coefficient = -weights * advantages * ratio * active  # d loss / d log pi, per sample
        grads = [coefficient @ d_mean, coefficient @ d_log_std]
        for i, g in enumerate(grads):
            m1[i] = b1 * m1[i] + (1 - b1) * g
            m2[i] = b2 * m2[i] + (1 - b2) * g**2
            m_hat = m1[i] / (1 - b1**step)
            v_hat = m2[i] / (1 - b2**step)
            params[i] -= lr * m_hat / (np.sqrt(v_hat) + _ADAM_EPS)
    log_prob, _, _ = log_prob_and_scores()
    log_ratio = log_prob - old_log_prob
    ratio = np.exp(log_ratio)
    stats.pg_loss = float((weights * surrogate_loss(ratio, advantages, clip, np)).sum())
    stats.entropy = float((log_std + 0.5 + 0.5 * np.log(2 * np.pi)).sum())
    stats.approx_kl = float(((ratio - 1) - log_ratio).mean())
    stats.clipfrac = float((np.abs(ratio - 1.0) > clip).mean())
    return mean, log_std, stats
