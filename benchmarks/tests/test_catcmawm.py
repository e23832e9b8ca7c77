"""The CatCMAwM peer of the benchmarks (benchmarks/catcmawm.py), on a mixed space with a conditional parameter."""

from __future__ import annotations

import math

import optuna
import pytest

from benchmarks.catcmawm import CatCMAwMSampler
from benchmarks.samplers import SAMPLERS


def _objective(trial: optuna.Trial) -> float:
    family = trial.suggest_categorical("family", ["a", "b", "c"])
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    y = trial.suggest_float("y", -3.0, 3.0)
    k = trial.suggest_int("k", 1, 8)
    batch = trial.suggest_int("batch", 8, 256, log=True)  # a log integer: searched in log space
    if family == "b":
        trial.suggest_float("momentum", 0.0, 1.0)  # conditional: sampled independently
    if k == 8:
        raise optuna.TrialPruned()  # a trial that never finishes must not break a generation
    best = {"a": -3.0, "b": -1.0, "c": -4.0}[family]
    offset = {"a": 0.0, "b": 0.5, "c": 0.2}[family]
    return (math.log10(lr) - best) ** 2 + y * y + 0.1 * (k - 5) ** 2 + 0.1 * math.log2(batch / 32) ** 2 + offset


@pytest.mark.parametrize("seed", [0, 1])
def test_catcmawm_finds_the_mixed_optimum_that_random_search_misses(seed: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found = {}
    for name, sampler in (("catcmawm", CatCMAwMSampler(seed=seed)), ("random", optuna.samplers.RandomSampler(seed))):
        study = optuna.create_study(sampler=sampler)
        study.optimize(_objective, n_trials=200)
        found[name] = study.best_value
        for t in study.trials:
            assert 1e-5 <= t.params["lr"] <= 1.0 and ("momentum" in t.params) == (t.params["family"] == "b")
            assert isinstance(t.params["batch"], int) and 8 <= t.params["batch"] <= 256
    assert found["catcmawm"] < 0.05 < found["random"]
    assert "catcmawm" in SAMPLERS
