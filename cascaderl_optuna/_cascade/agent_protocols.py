"""What an agent of either level must provide: the seams through which another agent can be put in.

``CascadeSampler`` builds its agents from two class attributes, ``_high_level_agent_class`` and
``_low_level_agent_class``, typed by the factories below. The shipped agents are
:class:`~cascaderl_optuna._cascade.high_level.HighLevelAgent` and
:class:`~cascaderl_optuna._cascade.low_level.LowLevelAgent`; the ablations of ``benchmarks/ablations.py`` subclass the
sampler with other ones (uniform strategies, uniform tactical values, no history encoding). These protocols are
everything the sampler calls on an agent, so an agent that satisfies them needs no knowledge of the sampler's
internals, and the sampler's private methods are never overridden.

An agent may also be made by subclassing a shipped one. ``HighLevelAgent`` documents three extension points for that,
which the sampler never calls itself (so they are not part of :class:`HighLevelPolicy`) and which the ablations use:

* ``encoder`` (attribute, a :class:`~cascaderl_optuna._cascade.encoding.HistoryEncoder`): turns the window into each
  choice's features, in ``fit``, ``observe`` and ``act`` alike; replace it in ``__init__`` with a subclass to change
  what the policy sees (``flat`` zeroes every feature with one whose ``feature_rows`` returns zeros).
* ``head_probabilities(k, phi)``: head ``k``'s probability of each choice given its ``(n_choices[k], N_FEATURES)``
  feature matrix, called by ``act``; override it to change how the agent acts (``uniform_high_level`` returns
  uniform probabilities, and overrides ``fit`` and ``observe`` to learn nothing). ``fit`` re-scores its actions
  through its own batched policy, not through this method.
* ``keep_tuning_share`` (class attribute): false drops the share kept for untuned choices, in acting and fitting.
* ``share_on_decisive_head_only`` (class attribute): false keeps the share on every head, not only on the decisive
  one (``share_every_head``).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from cascaderl_optuna._cascade.ppo import PPOStats


class HighLevelPolicy(Protocol):
    """Chooses one index per strategic head from the history (arrays in, actions out)."""

    bias: torch.Tensor
    """Per-choice biases; with ``theta``, the fitted weights the sampler caches between refit points."""
    theta: torch.Tensor
    """The history features' weights."""

    def fit(
        self,
        choices: np.ndarray,
        utilities: np.ndarray,
        behaviour_log_prob: np.ndarray,
        critic_gaps: np.ndarray | None = None,
    ) -> PPOStats:
        """Learn from the window (``(n, K)`` choices, ``(n,)`` utilities, stored log-probabilities and gaps)."""
        ...

    def observe(self, choices: np.ndarray, utilities: np.ndarray) -> None:
        """Take in the window without learning (the weights were fitted earlier)."""
        ...

    def act(
        self,
        rng: np.random.Generator,
        pending: np.ndarray | None = None,
        fixed: dict[int, int] | None = None,
        critic_gap: Callable[[int, list[int]], np.ndarray] | None = None,
    ) -> tuple[list[int], list[float], list[np.ndarray], list[np.ndarray]]:
        """Chosen indices, their log-probabilities, each head's probabilities and the critic gaps it saw."""
        ...


class HighLevelAgentFactory(Protocol):
    """How the sampler makes a high-level agent for heads of ``n_choices`` choices."""

    def __call__(
        self,
        n_choices: Sequence[int],
        *,
        theta_prior: np.ndarray | None = None,
        floor: float = ...,
        gamma: float = ...,
        clip: float = ...,
        tuned_elsewhere: np.ndarray | None = None,
    ) -> HighLevelPolicy: ...


class LowLevelPolicy(Protocol):
    """Proposes the tactical values of one strategy in the unit cube."""

    mean: np.ndarray
    """The policy's centre per tactical dimension (stored with the decision, for observability)."""
    std: np.ndarray
    """Its spread per dimension."""

    def improve(
        self,
        score: Callable[[np.ndarray], np.ndarray],
        rng: np.random.Generator,
        real_x: np.ndarray | None = None,
        real_utility: np.ndarray | None = None,
        real_log_prob: np.ndarray | None = None,
    ) -> PPOStats:
        """Learn from critic-scored imagined actions and the strategy's real trials."""
        ...

    def act(self, rng: np.random.Generator, score: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """One action in the unit cube."""
        ...

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Per-dimension behaviour log-densities of ``x``: what later updates re-score."""
        ...


class LowLevelAgentFactory(Protocol):
    """How the sampler makes a low-level agent started at ``(mean, std)``."""

    def __call__(self, mean: np.ndarray, std: np.ndarray, *, clip: float = ...) -> LowLevelPolicy: ...
