"""What each level of the cascade decides for one trial, before the sampler stores it (``records.Decision``)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from cascaderl_optuna._cascade.coordinates import StrategicParam


@dataclass(frozen=True)
class StrategyChoice:
    """The high level's decision for one trial (empty without strategic heads)."""

    heads: list[StrategicParam] = field(default_factory=list)
    """The strategic heads, in the order of ``chosen``."""
    chosen: list[int] = field(default_factory=list)
    """Index of the chosen choice of each head."""
    log_prob: dict[str, float] = field(default_factory=dict)
    """Head name -> behaviour log-probability of the choice (heads fixed by ``enqueue_trial`` are absent)."""
    critic_gap: dict[str, list[float]] | None = None
    """Head name -> the ``critic_gap`` feature of each choice, as the agent saw it."""
    probs: dict[str, list[float]] | None = None
    """Head name -> the policy's probability of each choice (observability)."""
    entropy: float | None = None
    """The policy's entropy summed over heads (observability)."""
    diagnostics: dict[str, Any] | None = None
    """The PPO statistics of the high level's fit (observability)."""

    @property
    def params(self) -> dict[str, Any]:
        """Head name -> the chosen value."""
        return {head.name: head.choices[c] for head, c in zip(self.heads, self.chosen)}


@dataclass(frozen=True)
class TacticalProposal:
    """The low level's proposal for one trial, by tactical parameter name."""

    values: dict[str, Any]
    """The values the trial runs with."""
    log_prob: dict[str, float]
    """Log-density of each value's unit-cube coordinate under the policy that drew it."""
    mean: dict[str, float]
    """The policy's centre (observability)."""
    std: dict[str, float]
    """The policy's spread (observability)."""
    diagnostics: dict[str, float]
    """The PPO statistics of the low level's update, plus ``mean_std`` (observability)."""
