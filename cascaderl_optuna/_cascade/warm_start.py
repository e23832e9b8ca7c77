"""An earlier, related study as prior knowledge: where to start, what is already tuned, where each strategy was good.

Users re-tune when the model, the data or the sequence length changes, and the earlier study is most of what they know.
Optuna's way of reusing it, ``study.add_trials(old.trials)``, makes every sampler treat the old values as values of
the new objective; when the optimum has moved (a new model's best learning rate is a fraction of a decade away, a
family that was second is now first), that misleads the model for as long as the old trials outnumber the new. The
cascade reads the earlier study instead as three kinds of prior knowledge, none of which is ever a value of the new
objective, and each of which ends as the new study's own trials arrive:

1. **Where to start** (:meth:`WarmStart.design`). The space-filling start is replaced, for its first trials, by the
   earlier study's best configuration of each choice of its most decisive strategic head (the head whose choices'
   best values differ most: the optimizer family in fine-tuning spaces), best first. They are evaluated anew: if the
   optimum moved little, the study starts next to it; if another family is now best, its earlier best configuration
   says so within the first trials. (Meta-learned initial designs: Feurer, Springenberg & Hutter 2015, "Initializing
   Bayesian hyperparameter optimization via meta-learning".) The rest of the start stays space-filling.
2. **What is already tuned** (:meth:`WarmStart.tuned_counts`). The high level keeps a share of its probability for the
   choices that have not had the trials to tune their numbers (``high_level.tuning_share``): a family tried only at
   borrowed values looks worse than it is. A choice the earlier study gave its trials was tuned there, and its
   low level starts from that tuning (3.), so for the decisive head (the one the design covers) its earlier trials
   count towards its tuning trials: the share goes to the families neither study tuned, and the comparison between
   tuned families starts at once. The other heads (schedule, target modules, rank: mostly offsets) are not credited;
   as in a cold start, the share follows the new study's own decisive head (``high_level.decisive_head``). A hundred
   earlier trials do not establish every choice of every head, and crediting them too made a warm start keep the
   earlier study's schedule and end behind a cold start on a pair whose best family had changed
   (``docs/benchmarks.md``, warm starts). A choice the earlier study did not have is untuned, as in a cold
   start.
3. **Where each strategy was good** (:meth:`WarmStart.elite`). A low-level agent starts from the elite of the trials
   similar to its strategy (``low_level.strategy_start``); the earlier study's trials join that elite with their own
   rank utilities (normal scores, the same scale as the new study's) and a weight ``PRIOR_TRIALS / (PRIOR_TRIALS +
   n)``, ``n`` the new study's trials of that strategy: decisive while the strategy has few trials of its own,
   negligible once it has tens.

The earlier study is read once, when the sampler is built (any Optuna storage; its trials are kept, its storage is
not), and its outcomes are ranked by the same rule as the new study's (``history.rank_utilities``: feasibility,
pruning and failures included) in its own direction. Parameters the new search space lacks are ignored, values the
new distributions do not contain are left to the sampler (a design value) or clipped into the unit cube (the elite),
and choices the earlier study did not have have no prior.
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
from optuna.study import Study
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from cascaderl_optuna._cascade.coordinates import choice_matrix
from cascaderl_optuna._cascade.coordinates import heads_key
from cascaderl_optuna._cascade.coordinates import StrategicParam
from cascaderl_optuna._cascade.coordinates import unit_matrix
from cascaderl_optuna._cascade.high_level import TUNING_TRIALS
from cascaderl_optuna._cascade.history import FINISHED_STATES
from cascaderl_optuna._cascade.history import rank_utilities
from cascaderl_optuna._cascade.optuna_compat import contains
from cascaderl_optuna._cascade.optuna_compat import is_multi_objective


PRIOR_TRIALS = 8
"""How many of the new study's own trials of a strategy weigh as much as the earlier study's elite of it."""
MAX_PRIOR_TRIALS = 500
"""The earlier study's best trials kept (bounds the cost per trial)."""


class WarmStart:
    """The prior knowledge read from an earlier study (module docstring). Knows the old trials, not the new study."""

    def __init__(
        self,
        trials: Sequence[FrozenTrial],
        direction: StudyDirection,
        strategic_names: Sequence[str],
        source: str | None = None,
    ):
        finished = [t for t in trials if t.state in FINISHED_STATES and t.params]
        if not finished:
            raise ValueError(
                "warm_start: the earlier study has no finished trial with parameters to learn from. Pass a study "
                "with COMPLETE trials, or leave warm_start out."
            )
        self.direction = direction
        self._source = source
        utilities = rank_utilities(finished, direction)
        order = np.argsort(-utilities, kind="stable")[:MAX_PRIOR_TRIALS]
        self.trials = [finished[i] for i in order]  # best first
        self.utilities = utilities[order]
        self._strategic_names = set(strategic_names)
        self._elite_cache: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._counts_cache: dict[Any, np.ndarray] = {}
        self._decisive = self.decisive_head()
        self._design = self._make_design()

    @classmethod
    def from_study(cls, study: Any, strategic_names: Sequence[str]) -> WarmStart:
        """Read ``warm_start``: an optuna ``Study`` (its direction is its own) or a sequence of ``FrozenTrial``
        (read as minimised: the sampler refuses it in a maximised study, see :meth:`direction_mismatch`)."""
        if isinstance(study, Study):
            if is_multi_objective(study):
                raise ValueError(
                    f"warm_start: study {study.study_name!r} has {len(study.directions)} objectives; the cascade is "
                    "single-objective and learns from a single-objective study."
                )
            return cls(
                study.get_trials(deepcopy=False), study.direction, strategic_names, f"study {study.study_name!r}"
            )
        trials = list(study) if isinstance(study, Iterable) and not isinstance(study, (str, bytes, Mapping)) else None
        if trials is None or not all(isinstance(t, FrozenTrial) for t in trials):
            got = type(study).__name__ if trials is None else f"a sequence holding {_kinds(trials)}"
            raise TypeError(
                "warm_start must be an optuna.Study (e.g. optuna.load_study(study_name=..., storage=...)) or a "
                f"sequence of FrozenTrial (e.g. study.trials, read as minimised); got {got}: {_short(study)}."
            )
        return cls(trials, StudyDirection.MINIMIZE, strategic_names)

    def direction_mismatch(self, direction: StudyDirection) -> str:
        """Why this warm start cannot open a study optimised in ``direction`` (another direction than its own)."""
        old = "minimised" if self.direction == StudyDirection.MINIMIZE else "maximised"
        new = "minimises" if direction == StudyDirection.MINIMIZE else "maximises"
        if self._source is None:
            fix = (
                "pass the earlier optuna.Study itself (its direction is read from it), or, if those trials were "
                "maximised too, create an earlier study with direction='maximize' holding them (study.add_trials)"
            )
        else:
            fix = "warm-start from a study optimised in the same direction, or leave warm_start out"
        source = f"{self._source} was" if self._source else "the earlier trials (a sequence of FrozenTrial) are read as"
        return (
            f"warm_start: {source} {old}, but this study {new}: the earlier best configurations would open this "
            f"study as the worst for it. The cascade refuses rather than guess; {fix}."
        )

    # -- 1. where to start ------------------------------------------------------------------------
    def _is_strategic(self, name: str, dist: BaseDistribution) -> bool:
        return isinstance(dist, CategoricalDistribution) or name in self._strategic_names

    def decisive_head(self) -> str | None:
        """The strategic parameter whose choices' best utilities differ most in the earlier study."""
        best: dict[str, dict[Any, float]] = {}
        for trial, utility in zip(self.trials, self.utilities):
            for name, value in trial.params.items():
                if self._is_strategic(name, trial.distributions[name]):
                    best.setdefault(name, {}).setdefault(_key(value), float(utility))
        spread = {name: max(v.values()) - min(v.values()) for name, v in best.items() if len(v) > 1}
        return max(sorted(spread), key=spread.__getitem__) if spread else None

    def _make_design(self) -> list[dict[str, Any]]:
        head = self._decisive
        if head is None:
            return [dict(self.trials[0].params)]
        seen: set[Any] = set()
        design = []
        for trial in self.trials:  # best first: the best trial of each choice of the head
            if head in trial.params and _key(trial.params[head]) not in seen:
                seen.add(_key(trial.params[head]))
                design.append(dict(trial.params))
        return design

    def design(self, n: int) -> list[dict[str, Any]]:
        """At most ``n`` configurations for the start of the new study, best first."""
        return self._design[:n]

    # -- 2. what is already tuned -----------------------------------------------------------------
    def tuned_counts(self, heads: Sequence[StrategicParam]) -> np.ndarray:
        """``(K, max choices)`` the tuning trials each choice of each new head has from the earlier study: for the
        decisive head its earlier trials, at most ``TUNING_TRIALS``; 0 for the other heads and new choices."""
        key = heads_key(heads)
        if key in self._counts_cache:
            return self._counts_cache[key]
        c_max = max((h.n_choices for h in heads), default=1)
        counts = np.zeros((len(heads), c_max))
        choices = choice_matrix(self.trials, heads)
        for k in range(len(heads)):
            col = choices[:, k]
            counts[k, : heads[k].n_choices] = np.bincount(col[col >= 0], minlength=heads[k].n_choices)
        counts = np.minimum(counts, TUNING_TRIALS)
        counts[[h.name != self._decisive for h in heads]] = 0.0
        self._counts_cache[key] = counts
        return counts

    # -- 3. where each strategy was good ----------------------------------------------------------
    def elite(
        self, tactical: Mapping[str, BaseDistribution], heads: Sequence[StrategicParam]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The earlier trials in the new space: ``(unit values (n, d), choices (n, K), utilities (n,))``.

        Computed once per (tactical space, heads). NaN where a trial lacks a tactical parameter, -1 where it lacks a
        head or its value is not a choice of the new head.
        """
        key = (tuple(tactical.items()), heads_key(heads))
        found = self._elite_cache.get(key)
        if found is None:
            found = (unit_matrix(self.trials, tactical), choice_matrix(self.trials, heads), self.utilities)
            self._elite_cache[key] = found
        return found


def prior_weight(n_own: float) -> float:
    """The weight of the earlier study's trials of a strategy that has ``n_own`` trials of its own."""
    return PRIOR_TRIALS / (PRIOR_TRIALS + n_own)


def blend_start(
    own: tuple[np.ndarray, np.ndarray], earlier: tuple[np.ndarray, np.ndarray], n_own: float
) -> tuple[np.ndarray, np.ndarray]:
    """A low-level start ``(mean, std)``: the new study's and the earlier study's, weighted ``prior_weight(n_own)``."""
    w = prior_weight(n_own)
    return (1 - w) * own[0] + w * earlier[0], (1 - w) * own[1] + w * earlier[1]


def design_value(value: Any, dist: BaseDistribution) -> Any:
    """``value`` if the new distribution contains it, else None (the sampler draws that parameter itself)."""
    try:
        internal = dist.to_internal_repr(value)
    except (ValueError, TypeError):
        return None
    if isinstance(internal, float) and math.isnan(internal):
        return None
    return value if contains(dist, internal) else None


def _kinds(items: Sequence[Any]) -> str:
    return ", ".join(sorted({type(t).__name__ for t in items})) or "nothing"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _key(value: Any) -> Any:
    """A hashable stand-in for a parameter value (categorical choices may be None, bool, float...)."""
    return (type(value).__name__, repr(value))
