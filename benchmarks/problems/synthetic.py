"""Synthetic mixed search spaces from the high level's pre-training distribution, as benchmark problems.

:class:`benchmarks.pretraining.SyntheticProblem` draws a random mixed space (1-3 strategic heads of 2-4 choices,
1-4 tactical numbers, some log-scaled) where each strategy has its own quality offset and its own tactical optimum,
with an optional divergence cliff and noise. ``synthetic_<k>`` is the problem drawn from seed ``k``; the held-out suite
uses seeds from 20,000,000 on, which neither the pre-training rounds (``seed * 1,000,000 + round * 1,000 + i``) nor
its own held-out set (10,000,000 on) draw. The optimum is 0 (the noise-free value of the best strategy at its optimum).
"""

from __future__ import annotations

import numpy as np
import optuna

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params


class SyntheticMixedProblem:
    strategic_params: tuple[str, ...] = ()
    reference_problem = None

    def __init__(self, problem_seed: int) -> None:
        from benchmarks.pretraining import SyntheticProblem

        self.name = f"synthetic_{problem_seed}"
        self._problem = SyntheticProblem.draw(np.random.default_rng(problem_seed))

    def suggest(self, trial: optuna.Trial) -> Params:
        choices, unit = self._problem.suggest(trial)
        return {"choices": choices, "unit": unit.tolist()}

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        true = self._problem.true_value((params["choices"], np.asarray(params["unit"])))
        noise = self._problem.noise * float(np.random.default_rng(noise_seed).standard_normal())
        return Evaluation(true + noise, true)

    def optimum(self) -> float:
        return 0.0
