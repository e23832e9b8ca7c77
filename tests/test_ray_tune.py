"""Ray Tune: ``OptunaSearch(sampler=CascadeSampler(...))`` runs a real local tuning job.

Ray Tune keeps its own trials and hands Optuna the reported metric through ask/tell; the cascade must learn from
those reports exactly as from ``study.optimize``, and the searcher must survive Tune's checkpoint (pickle) and
restore. Ray is an optional extra (``pip install cascaderl-optuna[ray]``); in CI (``CI=true``) its absence is a
failure, elsewhere a skip.
"""

from __future__ import annotations

import math
import os
import sys

import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.records import Decision


pytestmark = pytest.mark.slow  # a local Ray cluster


try:
    import ray
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch
except ImportError as exc:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") == "true":
        raise RuntimeError("ray[tune] is missing in CI: scripts/test.sh installs the 'ray' extra") from exc
    pytest.skip(f"ray[tune] is not installed ({exc}): pip install 'cascaderl-optuna[ray]'", allow_module_level=True)


N_SAMPLES = 30
N_STARTUP = 8
MAX_CONCURRENT = 2
BEST_LOG_LR = {"adamw": -3.5, "sgd": -1.0, "adafactor": -2.5}
PENALTY = {"adamw": 0.0, "sgd": 1.5, "adafactor": 1.0}  # adamw is the planted best family


def planted_objective(config: dict) -> dict:
    """Each family has its own best learning rate; adamw's optimum is the best overall (loss 0)."""
    family = config["optimizer"]
    loss = (math.log10(config["learning_rate"]) - BEST_LOG_LR[family]) ** 2 + PENALTY[family]
    return {"loss": loss}


@pytest.fixture(scope="module")
def ray_local():
    # Ray's workers cannot import this test module by name: ship the objective by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_tune_optuna_search_with_cascade_learns_and_checkpoints(ray_local, tmp_path):
    search = OptunaSearch(metric="loss", mode="min", sampler=CascadeSampler(seed=0, n_startup_trials=N_STARTUP))
    tuner = tune.Tuner(
        planted_objective,
        param_space={
            "optimizer": tune.choice(list(BEST_LOG_LR)),
            "learning_rate": tune.loguniform(1e-5, 1.0),
        },
        tune_config=tune.TuneConfig(
            search_alg=search,
            num_samples=N_SAMPLES,
            max_concurrent_trials=MAX_CONCURRENT,
            reuse_actors=True,  # without it every trial starts a worker process: minutes on 2 cores
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray_results"), verbose=0),
    )
    results = tuner.fit()

    assert results.num_errors == 0
    tune_losses = sorted(r.metrics["loss"] for r in results)
    assert len(tune_losses) == N_SAMPLES

    # Every Tune trial reached the sampler's storage with the loss Tune saw: the cascade learns from Tune's reports.
    study = search._ot_study
    trials = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert sorted(t.value for t in trials) == pytest.approx(tune_losses)
    decided = [t for t in trials if Decision.read(t) is not None]
    # The space-filling start lasts until N_STARTUP trials have *finished*; a trial asked while the last of them
    # runs is still a start trial. Every later trial was decided by the cascade.
    assert len(decided) >= N_SAMPLES - N_STARTUP - (MAX_CONCURRENT - 1)

    # It found the planted best family and its learning rate, and spent its later trials mostly there.
    best = results.get_best_result(metric="loss", mode="min")
    assert best.config["optimizer"] == "adamw"
    assert abs(math.log10(best.config["learning_rate"]) - BEST_LOG_LR["adamw"]) < 0.5
    later = [t.params["optimizer"] for t in sorted(trials, key=lambda t: t.number)[-10:]]
    assert later.count("adamw") >= 5, later

    # Tune checkpoints a searcher by pickling it; a restored searcher carries the cascade and its history on.
    path = str(tmp_path / "searcher.pkl")
    search.save(path)
    restored = OptunaSearch(metric="loss", mode="min")
    restored.restore(path)
    assert isinstance(restored._ot_study.sampler, CascadeSampler)
    assert len(restored._ot_study.trials) == len(study.trials)
    config = restored.suggest("after-restore")
    assert config["optimizer"] in BEST_LOG_LR and 1e-5 <= config["learning_rate"] <= 1.0
    new_trial = restored._ot_study.trials[-1]
    assert Decision.read(new_trial) is not None  # decided by the learned policy, not a cold start
