"""COCO ``bbob-mixint`` functions (Tušar, Brockhoff & Hansen 2019, "Mixed-integer benchmark problems for single- and
bi-objective optimization", GECCO), from the ``coco-experiment`` package (``cocoex``).

In dimension 10 the first eight variables are integers with 2, 2, 4, 4, 8, 8, 16 and 16 values and the last two are
continuous in [-5, 5]: passed as ``suggest_int`` and ``suggest_float`` over the problem's own bounds. The optimum
value ``f_opt`` is known to COCO; regret is ``f - f_opt``. ``cocoex`` 2.8 does not expose ``f_opt`` in Python, so it
is read with ``coco_problem_get_best_value`` from the C library that ``cocoex`` itself loaded.
The problems are noise-free, have no categorical parameters (so nothing is strategic for the cascade) and serve as
the control where a strategy/tactics split should not help.
"""

from __future__ import annotations

import ctypes

import cocoex
import cocoex.interface
import numpy as np
import optuna

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params


def _f_opt(function: int, dimension: int, instance: int) -> float:
    lib = ctypes.CDLL(cocoex.interface.__file__)
    lib.coco_suite.restype = ctypes.c_void_p
    lib.coco_suite.argtypes = [ctypes.c_char_p] * 3
    get = lib.coco_suite_get_problem_by_function_dimension_instance
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t]
    lib.coco_problem_get_best_value.restype = ctypes.c_double
    lib.coco_problem_get_best_value.argtypes = [ctypes.c_void_p]
    lib.coco_suite_free.argtypes = [ctypes.c_void_p]
    options = f"dimensions: {dimension} function_indices: {function} instance_indices: {instance}".encode()
    suite = lib.coco_suite(b"bbob-mixint", b"", options)
    try:
        return float(lib.coco_problem_get_best_value(get(suite, function, dimension, instance)))
    finally:
        lib.coco_suite_free(suite)


class MixintProblem:
    strategic_params: tuple[str, ...] = ()
    reference_problem = None

    def __init__(self, function: int, *, dimension: int, instance: int) -> None:
        self.name = f"mixint_f{function}_d{dimension}"
        options = f"dimensions:{dimension} function_indices:{function} instance_indices:{instance}"
        self._suite = cocoex.Suite("bbob-mixint", "", options)
        self._problem = self._suite.get_problem_by_function_dimension_instance(function, dimension, instance)
        self._n_int = self._problem.number_of_integer_variables
        self._lower, self._upper = self._problem.lower_bounds, self._problem.upper_bounds
        self._f_opt = _f_opt(function, dimension, instance)

    def suggest(self, trial: optuna.Trial) -> Params:
        params: Params = {}
        for i, (lo, hi) in enumerate(zip(self._lower, self._upper)):
            if i < self._n_int:
                params[f"x{i}"] = trial.suggest_int(f"x{i}", int(lo), int(hi))
            else:
                params[f"x{i}"] = trial.suggest_float(f"x{i}", float(lo), float(hi))
        return params

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        value = float(self._problem(np.array([params[f"x{i}"] for i in range(len(self._lower))], dtype=float)))
        return Evaluation(value, value)

    def optimum(self) -> float:
        return self._f_opt
