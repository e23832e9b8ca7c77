"""The ablations: the shipped cascade with one part switched off, to show what each part is worth.

Each is a subclass of the shipped ``CascadeSampler`` that sets one of its documented ablation seams (class attributes,
never an override of the sampler's methods): ``_high_level_agent_class`` and ``_low_level_agent_class`` take any agent
that satisfies ``cascaderl_optuna._cascade.agent_protocols``, ``_critic_sees_strategy`` hides the strategy from the
critic and the low level, ``HighLevelAgent.keep_tuning_share`` drops the tuning share and
``HighLevelAgent.share_on_decisive_head_only`` spreads it over every head. ``benchmarks.samplers`` registers them as
``cascade_uniform_high_level``, ``cascade_no_low_level_learning``, ``cascade_flat``, ``cascade_no_tuning_share`` and
``cascade_share_every_head``; the ``ablation`` suite pairs each with the full cascade by seed (``docs/benchmarks.md``),
and the ``llm_family`` suite runs ``cascade_no_tuning_share`` beside the cascade on the drawn LoRA landscapes. They
decide exactly as the ablation switch of earlier versions did, so the committed rows stay reproducible
(``scripts/check_identical_suggestions.py`` checks one study of each).

* ``uniform_high_level``: strategies uniformly at random, no high-level learning; the low level as shipped.
* ``no_low_level_learning``: tactical values uniformly at random; the high level as shipped.
* ``flat``: one agent over all parameters: per-choice logits without the history encoding, one Gaussian over
  the tactical values shared by every strategy, a critic that does not see the strategy.
* ``no_tuning_share``: the high level's policy is the learned floored softmax alone, without the share that keeps a
  strategic choice from being judged before it has had ``TUNING_TRIALS`` trials of its own (the cascade before the
  share was added).
* ``share_every_head``: the tuning share on every strategic head, not only on the decisive one (the cascade before
  the share was narrowed; ``docs/algorithm.md``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import optuna

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.encoding import HistoryEncoder
from cascaderl_optuna._cascade.encoding import N_FEATURES
from cascaderl_optuna._cascade.high_level import HighLevelAgent
from cascaderl_optuna._cascade.low_level import LowLevelAgent
from cascaderl_optuna._cascade.ppo import PPOStats


class UniformHighLevelAgent(HighLevelAgent):
    """Every choice equally likely; nothing is learned."""

    def fit(self, choices, utilities, behaviour_log_prob, critic_gaps=None) -> PPOStats:  # type: ignore[no-untyped-def]
        return self.stats

    def observe(self, choices: np.ndarray, utilities: np.ndarray) -> None:
        return None

    def head_probabilities(self, k: int, phi: np.ndarray) -> np.ndarray:
        return np.full(self.n_choices[k], 1.0 / self.n_choices[k])


class UniformLowLevelAgent(LowLevelAgent):
    """Tactical values uniformly at random in the unit cube (density 1); nothing is learned."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(np.full(len(mean), 0.5), std, **kwargs)

    def improve(self, score, rng, real_x=None, real_utility=None, real_log_prob=None) -> PPOStats:  # type: ignore[no-untyped-def]
        return self.stats

    def act(self, rng: np.random.Generator, score=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        return rng.random(self.dim)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(np.shape(x))


class _NoFeatureEncoder(HistoryEncoder):
    """Every history feature zero: the policy's logits are its per-choice biases alone."""

    def feature_rows(self, k, prefix, pending=None):  # type: ignore[no-untyped-def]
        return [[0.0] * N_FEATURES for _ in range(self.n_choices[k])]


class FlatHighLevelAgent(HighLevelAgent):
    """Per-choice logits without the history encoding."""

    def __init__(self, n_choices, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(n_choices, **kwargs)
        self.encoder = _NoFeatureEncoder(self.n_choices)


class NoTuningShareAgent(HighLevelAgent):
    """The learned floored softmax alone: a choice is judged on whatever trials it happened to get."""

    keep_tuning_share = False


class ShareEveryHeadAgent(HighLevelAgent):
    """The tuning share on every head: each choice of each head gets its tuning trials before it is judged."""

    share_on_decisive_head_only = False


class NoTuningShareCascade(CascadeSampler):
    _high_level_agent_class = NoTuningShareAgent


class ShareEveryHeadCascade(CascadeSampler):
    _high_level_agent_class = ShareEveryHeadAgent


class UniformHighLevelCascade(CascadeSampler):
    _high_level_agent_class = UniformHighLevelAgent


class NoLowLevelLearningCascade(CascadeSampler):
    _low_level_agent_class = UniformLowLevelAgent


class FlatCascade(CascadeSampler):
    """One agent over all parameters: the critic and the low level do not see the strategy."""

    _high_level_agent_class = FlatHighLevelAgent
    _critic_sees_strategy = False


ABLATIONS: dict[str, type[CascadeSampler]] = {
    "uniform_high_level": UniformHighLevelCascade,
    "no_low_level_learning": NoLowLevelLearningCascade,
    "flat": FlatCascade,
    "no_tuning_share": NoTuningShareCascade,
    "share_every_head": ShareEveryHeadCascade,
}


def make_ablation_sampler(name: str) -> Callable[..., optuna.samplers.BaseSampler]:
    """``(seed, problem) -> sampler`` of ablation ``name``."""
    cls = ABLATIONS[name]
    return lambda seed, problem: cls(seed=seed, strategic_params=problem.strategic_params)
