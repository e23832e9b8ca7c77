"""The contract every benchmark problem fulfils.

A problem is two functions kept apart on purpose: ``suggest`` asks the trial for parameters (sampler time is spent
here) and ``evaluate`` scores them (objective time). The runner times the two separately, so "sampler seconds per
trial" never includes the objective.

Two members are optional (:class:`FamilyProblem`; a problem without them simply has no early-commitment diagnostic):

* ``family(params) -> str | None``: the strategy family of a configuration, the strategic choice that decides where
  the tactical optimum is (the LLM landscapes: the optimizer, whose family moves the best learning rate by decades);
  None where a configuration belongs to no family. The runner records it for every trial (``"families"``).
* ``family_minima() -> dict[str, float]``: the best noise-free value within each family. The runner records it
  beside ``optimum`` (``"family_minima"``), and the report reads from the two whether a sampler stopped trying the
  best family before it had tuned it (``benchmarks.report.early_commitment``).
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


class FamilyProblem(Problem, Protocol):
    """A problem with the two optional members (see the module docstring)."""

    def family(self, params: Params) -> str | None: ...

    def family_minima(self) -> dict[str, float]: ...
