"""A short study with CascadeSampler loaded through OptunaHub.

Run from this folder's registry root (``optunahub/package`` in the cascaderl-optuna repository,
``package`` in optunahub-registry) with ``python samplers/cascade_rl/example.py``; set
``test_local = False`` to load the published package instead.
"""

from __future__ import annotations

import math

import optuna
import optunahub


def objective(trial: optuna.Trial) -> float:
    optimizer = trial.suggest_categorical("optimizer", ["adamw", "sgd"])
    lr = trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
    best = 3e-4 if optimizer == "adamw" else 0.1
    return (math.log10(lr) - math.log10(best)) ** 2 + (optimizer == "sgd") * 0.1


package_name = "samplers/cascade_rl"
test_local = True

if test_local:
    module = optunahub.load_local_module(package=package_name, registry_root=".")
else:
    module = optunahub.load_module(package=package_name)

study = optuna.create_study(sampler=module.CascadeSampler(seed=0))
study.optimize(objective, n_trials=40)
print(study.best_trial.params, study.best_value)
