"""CatCMAwM (CMA-ES for mixed continuous, integer and categorical spaces; Hamano et al., GECCO 2025) as an Optuna
sampler for the benchmarks, from the ``cmaes`` package (``cmaes.CatCMAwM``).

OptunaHub's ``catcmawm`` package wraps the same class, but OptunaHub downloads packages from GitHub, which the
benchmark machines cannot reach; this is a small local wrapper with the same division of work:

* the parameters every finished trial shares (Optuna's intersection search space) go to CatCMAwM: floats as
  continuous variables (in log space where the distribution is log), integers as integer variables over their grid
  (a log integer, such as a batch size of 16-256, as a continuous variable in log space, rounded), categoricals as
  categorical variables;
* the others (conditional parameters, such as SGD's momentum under SGD only) are sampled independently by a
  ``RandomSampler``;
* when the shared space changes (early, as conditional parameters leave it), CatCMAwM starts over on the new one;
* one ``ask`` per trial; a generation is told once ``population_size`` of its trials have finished (failed or pruned
  trials are left out of it).

The sampler is meant for ``n_jobs=1`` studies (the benchmark runner's); it keeps its state in memory.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


class CatCMAwMSampler(optuna.samplers.BaseSampler):
    """CatCMAwM over the shared parameters, random search for the rest (see the module docstring)."""

    def __init__(self, seed: int | None = None, n_startup_trials: int = 1) -> None:
        self._seed = seed
        self._independent = optuna.samplers.RandomSampler(seed=seed)
        self._intersection = IntersectionSearchSpace()
        self._n_startup_trials = n_startup_trials
        self._optimizer: Any = None
        self._space: dict[str, BaseDistribution] = {}
        self._asked: dict[int, Any] = {}
        self._generation: list[tuple[Any, float]] = []

    def reseed_rng(self) -> None:
        self._independent.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        space = self._intersection.calculate(study)
        return {
            name: d
            for name, d in space.items()
            if not d.single() and isinstance(d, (FloatDistribution, IntDistribution, CategoricalDistribution))
        }

    def _start(self, space: dict[str, BaseDistribution]) -> None:
        from cmaes import CatCMAwM

        self._space = dict(sorted(space.items()))
        x_space, z_space, c_space = [], [], []
        for d in self._space.values():
            if isinstance(d, FloatDistribution) or (isinstance(d, IntDistribution) and d.log):
                x_space.append([math.log(d.low), math.log(d.high)] if d.log else [d.low, d.high])
            elif isinstance(d, IntDistribution):
                z_space.append(list(range(d.low, d.high + 1, d.step)))
            else:
                c_space.append(len(d.choices))
        self._optimizer = CatCMAwM(
            x_space=x_space or None, z_space=z_space or None, c_space=c_space or None, seed=self._seed
        )

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space or len(study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < (
            self._n_startup_trials
        ):
            return {}
        if self._optimizer is None or dict(sorted(search_space.items())) != self._space:
            # the first decision, or the shared space shrank (a conditional parameter left it): start over on it
            self._start(search_space)
            self._asked, self._generation = {}, []
        solution = self._optimizer.ask()
        self._asked[trial.number] = solution
        params: dict[str, Any] = {}
        xi = zi = ci = 0
        for name, d in self._space.items():
            if isinstance(d, FloatDistribution) or (isinstance(d, IntDistribution) and d.log):
                v = float(solution.x[xi])
                xi += 1
                v = min(max(math.exp(v) if d.log else v, d.low), d.high)
                params[name] = int(round(v)) if isinstance(d, IntDistribution) else v
            elif isinstance(d, IntDistribution):
                params[name] = int(solution.z[zi])
                zi += 1
            else:
                params[name] = d.choices[int(np.argmax(solution.c[ci]))]
                ci += 1
        return params

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: list[float] | None
    ) -> None:
        solution = self._asked.pop(trial.number, None)
        if solution is None or state != TrialState.COMPLETE or values is None:
            return
        value = values[0] if study.direction == optuna.study.StudyDirection.MINIMIZE else -values[0]
        self._generation.append((solution, value))
        if len(self._generation) == self._optimizer.population_size:
            self._optimizer.tell(self._generation)
            self._generation = []
