"""The contract every benchmark problem fulfils.

A problem is two functions kept apart on purpose: ``suggest`` asks the trial for parameters (sampler time is spent
here) and ``evaluate`` scores them (objective time). The runner times the two separately, so "sampler seconds per
trial" never includes the objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import Protocol

import optuna


Params = dict[str, Any]


@dataclass(frozen=True)
class Evaluation:
    """One objective evaluation.

    ``value`` is what the sampler is told (it may carry run-to-run noise); ``true_value`` is the noise-free value of
    the same configuration where the problem knows it (else equal to ``value``). Regret is computed on
    ``true_value`` of the incumbent, the trial with the best *observed* value so far.
    """

    value: float
    true_value: float


class Problem(Protocol):
    name: str
    # Int parameters the cascade should treat as strategic besides every categorical one.
    strategic_params: tuple[str, ...]
    # For a re-parametrised twin of another problem (same objective, other search space): that problem's name.
    reference_problem: str | None

    def suggest(self, trial: optuna.Trial) -> Params: ...

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation: ...

    def optimum(self) -> float | None:
        """The known minimum of ``true_value``, or None where nobody knows it."""
        ...
