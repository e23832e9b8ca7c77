"""The strategic/tactical split and the [0, 1] mapping of each distribution.

The cascade works in two coordinate systems:

* **Strategic** parameters (every ``CategoricalDistribution``, plus integer or float parameters the
  user names as strategic, such as a LoRA rank) are discrete choices made by the high-level agent.
  Each is represented by the index of its choice; a named numeric parameter is discretised into the
  values its distribution allows (at most ``MAX_STRATEGIC_LEVELS`` of them).
* **Tactical** parameters (the remaining floats and ints) live in the unit cube. ``to_unit`` and
  ``from_unit`` map between a distribution and [0, 1]: log scale for ``log=True``, rounding to the
  integer or ``step`` grid, and clipping so a value is always inside the bounds. Integer and stepped
  ranges are widened by half a step on each side so that every grid point owns an equal share of
  the unit interval (as optuna's CMA-ES and TPE samplers do).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import math
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import FrozenTrial


MAX_STRATEGIC_LEVELS = 64


class StrategicParam:
    """One discrete head of the high-level agent: a parameter name and its list of choices."""

    __slots__ = ("name", "distribution", "choices", "ordinal")

    def __init__(self, name: str, distribution: BaseDistribution) -> None:
        self.name = name
        self.distribution = distribution
        self.choices: tuple[Any, ...] = strategic_choices(name, distribution)
        self.ordinal = False  # research (branch research-ordinal): the critic codes numeric levels as one number

    @property
    def numeric(self) -> bool:
        """Every choice is a number (not a bool): the levels are ordered."""
        return self.n_choices >= 3 and all(
            isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, (bool, np.bool_))
            for c in self.choices
        )

    def code_matrix(self) -> np.ndarray:
        """Row ``c``: the critic's code of choice ``c`` (one-hot; one ordered number for an ordinal head)."""
        return self.level_positions()[:, None] if self.ordinal else np.eye(self.n_choices)

    def level_positions(self) -> np.ndarray:
        """Each choice's position in [0, 1]: on a log scale for positive levels spanning a factor of 4 or more."""
        v = np.array([float(c) for c in self.choices])
        if v.min() > 0 and v.max() / v.min() >= 4:
            v = np.log(v)
        span = v.max() - v.min()
        return (v - v.min()) / span if span > 0 else np.zeros_like(v)

    @property
    def n_choices(self) -> int:
        return len(self.choices)

    def index_of(self, value: Any) -> int | None:
        """Index of ``value`` among the choices, or ``None`` when it is not one of them."""
        if isinstance(self.distribution, CategoricalDistribution):
            try:
                return int(self.distribution.to_internal_repr(value))
            except ValueError:
                return None
        for i, choice in enumerate(self.choices):
            if math.isclose(float(choice), float(value), rel_tol=1e-12, abs_tol=1e-12):
                return i
        return None


def check_strategic(name: str, distribution: BaseDistribution) -> None:
    """Raise ``ValueError`` (naming ``strategic_params``) when the parameter ``name`` cannot be a strategic head: a
    continuous float, or more than ``MAX_STRATEGIC_LEVELS`` levels. The sampler checks a name from ``strategic_params``
    as soon as a finished trial shows its distribution, so the mistake surfaces at the next trial instead of when
    the start-up ends (where :class:`StrategicParam` would raise the same error)."""
    strategic_choices(name, distribution)


def strategic_choices(name: str, distribution: BaseDistribution) -> tuple[Any, ...]:
    """The discrete values a strategic parameter can take."""
    if isinstance(distribution, CategoricalDistribution):
        return tuple(distribution.choices)
    if isinstance(distribution, IntDistribution):
        if distribution.log:
            values: list[Any] = []
            v = distribution.low
            while v <= distribution.high and len(values) <= MAX_STRATEGIC_LEVELS:
                values.append(v)
                v *= 2
            if values[-1] != distribution.high and len(values) <= MAX_STRATEGIC_LEVELS:
                values.append(distribution.high)
        else:
            values = list(range(distribution.low, distribution.high + 1, distribution.step))
    elif isinstance(distribution, FloatDistribution) and distribution.step is not None:
        n = int(round((distribution.high - distribution.low) / distribution.step)) + 1
        values = [float(distribution.low + i * distribution.step) for i in range(n)]
    else:
        raise ValueError(
            f"Parameter {name!r} is named strategic but its distribution {distribution} is "
            "continuous. Only categorical, integer and stepped-float parameters can be strategic: "
            "give it a `step`, or remove it from `strategic_params`."
        )
    if len(values) > MAX_STRATEGIC_LEVELS:
        raise ValueError(
            f"Parameter {name!r} is named strategic but has {len(values)} levels (at most "
            f"{MAX_STRATEGIC_LEVELS} are supported). Use a categorical of the levels that matter, "
            "a larger `step`, or leave it tactical."
        )
    return tuple(values)


def split_search_space(
    search_space: Mapping[str, BaseDistribution], strategic_names: Iterable[str]
) -> tuple[list[StrategicParam], dict[str, BaseDistribution]]:
    """Split a search space into strategic heads (in order) and tactical distributions."""
    named = set(strategic_names)
    strategic: list[StrategicParam] = []
    tactical: dict[str, BaseDistribution] = {}
    for name, dist in search_space.items():
        if isinstance(dist, CategoricalDistribution) or name in named:
            strategic.append(StrategicParam(name, dist))
        elif isinstance(dist, (FloatDistribution, IntDistribution)):
            tactical[name] = dist
        else:
            raise ValueError(
                f"Parameter {name!r} has an unsupported distribution {type(dist).__name__}. "
                "CascadeSampler supports FloatDistribution, IntDistribution and "
                "CategoricalDistribution."
            )
    return strategic, tactical


def _extended_bounds(dist: FloatDistribution | IntDistribution) -> tuple[float, float]:
    half = 0.0
    if isinstance(dist, IntDistribution):
        half = 0.5 * dist.step if not dist.log else 0.5
    elif dist.step is not None:
        half = 0.5 * dist.step
    low, high = dist.low - half, dist.high + half
    if dist.log:
        low = max(low, dist.low * 0.5) if half else low
        return math.log(low), math.log(high)
    return low, high


def to_unit(dist: FloatDistribution | IntDistribution, value: float) -> float:
    """Map a value of ``dist`` into [0, 1]."""
    low, high = _extended_bounds(dist)
    x = math.log(value) if dist.log else float(value)
    if high <= low:
        return 0.5
    return min(1.0, max(0.0, (x - low) / (high - low)))


def from_unit(dist: FloatDistribution | IntDistribution, u: float) -> float | int:
    """Map a point of [0, 1] onto ``dist``: log scale, grid rounding, always inside the bounds."""
    u = min(1.0, max(0.0, float(u)))
    low, high = _extended_bounds(dist)
    x = low + u * (high - low)
    if dist.log:
        x = math.exp(x)
    if isinstance(dist, IntDistribution):
        if dist.log:
            v = int(round(x))
        else:
            v = dist.low + int(round((x - dist.low) / dist.step)) * dist.step
        return int(min(dist.high, max(dist.low, v)))
    if dist.step is not None:
        k = round((x - dist.low) / dist.step)
        n_max = int(round((dist.high - dist.low) / dist.step))
        k = min(n_max, max(0, k))
        return float(min(dist.high, max(dist.low, dist.low + k * dist.step)))
    return float(min(dist.high, max(dist.low, x)))


# -- trials as arrays in these coordinates ------------------------------------------------------
def heads_key(heads: Sequence[StrategicParam]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """The strategic heads as part of a cache key: what a cached choice index refers to."""
    return tuple((h.name, h.choices) for h in heads)


def choice_matrix(trials: Sequence[FrozenTrial], heads: Sequence[StrategicParam]) -> np.ndarray:
    """``(n, K)`` choice index of each trial's strategic values; -1 where absent or foreign."""
    out = np.full((len(trials), len(heads)), -1, dtype=int)
    for i, t in enumerate(trials):
        for k, head in enumerate(heads):
            if head.name in t.params:
                idx = head.index_of(t.params[head.name])
                if idx is not None:
                    out[i, k] = idx
    return out


def one_hot(choices: np.ndarray, heads: Sequence[StrategicParam]) -> np.ndarray:
    """One-hot code of each row's strategic choices (all zeros for an absent head)."""
    n = choices.shape[0]
    blocks = []
    for k, head in enumerate(heads):
        rows = np.flatnonzero(choices[:, k] >= 0)
        if head.ordinal:
            block = np.full((n, 1), 0.5)
            block[rows, 0] = head.level_positions()[choices[rows, k]]
        else:
            block = np.zeros((n, head.n_choices))
            block[rows, choices[rows, k]] = 1.0
        blocks.append(block)
    return np.hstack(blocks) if blocks else np.zeros((n, 0))


MISSING_UNIT = 0.5
"""Where the critic puts a tactical parameter a trial lacks: the centre of the unit interval."""


def critic_input(units: np.ndarray, choices: np.ndarray, heads: Sequence[StrategicParam]) -> np.ndarray:
    """The critic's input rows: each row's tactical unit values (``MISSING_UNIT`` where NaN, a parameter the trial
    lacks), then the one-hot code of its strategic ``choices`` of ``heads`` (:func:`one_hot`).

    This defines the critic's input layout, and builds every row that comes from trials or from a strategy: the
    critic's data, the RUNNING trials, its hyperparameter fit, the similarity of strategies and :func:`strategy_code`
    go through here. Two hot paths write rows of the same layout themselves, from rows built here, to stay lean
    (they run inside the agents' updates): ``low_level.optimistic_score`` appends one :func:`strategy_code` to
    imagined tactical actions, and ``encoding.critic_gap_function`` sets one head's one-hot block of candidate rows in
    place (block ``k`` starts at column ``n_tactical + sum(n_choices[:k])``). ``tests/test_agents.py`` checks that
    both match what this function builds.
    """
    return np.hstack([np.nan_to_num(units, nan=MISSING_UNIT), one_hot(choices, heads)])


def strategy_code(chosen: Sequence[int], heads: Sequence[StrategicParam]) -> np.ndarray:
    """The strategy part of :func:`critic_input` for one strategy (``chosen``: an index per head)."""
    return critic_input(np.zeros((1, 0)), np.array([chosen], dtype=int).reshape(1, len(heads)), heads)[0]


def unit_row(trial: FrozenTrial, tactical: Mapping[str, BaseDistribution], names: Sequence[str]) -> list[float]:
    """One trial's tactical values in the unit cube; NaN where it lacks a parameter or it changed type."""
    row = [math.nan] * len(names)
    for j, name in enumerate(names):
        dist = tactical[name]
        value = trial.params.get(name)
        if value is None or not isinstance(trial.distributions.get(name), type(dist)):
            continue
        if dist.log and value <= 0:  # type: ignore[attr-defined]
            continue
        row[j] = to_unit(dist, value)  # type: ignore[arg-type]
    return row


def unit_matrix(trials: Sequence[FrozenTrial], tactical: Mapping[str, BaseDistribution]) -> np.ndarray:
    """``(n, d)`` unit-cube coordinates of the trials (rows of :func:`unit_row`)."""
    names = list(tactical)
    rows = [unit_row(t, tactical, names) for t in trials]
    return np.array(rows, dtype=float).reshape(len(trials), len(names))


def parameter_order(trials: Iterable[FrozenTrial], names: Iterable[str]) -> list[str]:
    """``names`` in the order the objective suggests them: the cascade's order of its heads.

    By the position each had in the first of ``trials`` that used it, then by name (a name no
    trial used comes last). The sampler passes its finished (COMPLETE and PRUNED) trials by
    number; group decomposition iterates over sets, whose order changes with Python's hash seed,
    so this gives a stable order, the same in every process: decisions are reproducible and the
    factorised high-level policy always conditions later choices on the same earlier ones.
    """
    wanted = list(names)
    position: dict[str, int] = {}
    for t in trials:
        for i, name in enumerate(t.distributions):
            position.setdefault(name, i)
        if all(n in position for n in wanted):
            break
    return sorted(wanted, key=lambda n: (position.get(n, 1 << 30), n))
