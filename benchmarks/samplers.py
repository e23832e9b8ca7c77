"""The samplers under comparison, by name.

``cascade`` is imported only when asked for, so the baselines run before (and without) ``cascaderl_optuna``.
Every baseline runs at full strength with its optuna 5.0 defaults except where its name says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from benchmarks.problems import Problem


def _cascade(seed: int, problem: Problem) -> optuna.samplers.BaseSampler:
    from cascaderl_optuna import CascadeSampler

    return CascadeSampler(seed=seed, strategic_params=problem.strategic_params)


def _cascade_ablation(ablation: str) -> Callable[[int, Problem], optuna.samplers.BaseSampler]:
    def make(seed: int, problem: Problem) -> optuna.samplers.BaseSampler:
        from benchmarks.ablations import make_ablation_sampler

        return make_ablation_sampler(ablation)(seed, problem)

    return make


def _cascade_pretrained(seed: int, problem: Problem) -> optuna.samplers.BaseSampler:
    from cascaderl_optuna import CascadeSampler

    return CascadeSampler(seed=seed, strategic_params=problem.strategic_params, high_level_theta="pretrained")


ABLATIONS = (
    "uniform_high_level",
    "no_low_level_learning",
    "flat",
    "no_tuning_share",
    "share_every_head",
)  # benchmarks/ablations.py


def _catcmawm(seed: int, problem: Problem) -> optuna.samplers.BaseSampler:
    from benchmarks.catcmawm import CatCMAwMSampler

    return CatCMAwMSampler(seed=seed)


SAMPLERS: dict[str, Callable[[int, Problem], optuna.samplers.BaseSampler]] = {
    "cascade": _cascade,
    # The ablations: the cascade with one part switched off (benchmarks/ablations.py).
    **{f"cascade_{a}": _cascade_ablation(a) for a in ABLATIONS},
    # The high level started from the weights pre-trained over synthetic studies (benchmarks/pretraining.py).
    "cascade_pretrained": _cascade_pretrained,
    # optuna 5 defaults: multivariate=True, constant_liar=True (see TPESampler's signature).
    "tpe_default": lambda seed, problem: optuna.samplers.TPESampler(seed=seed),
    "tpe_mv_group": lambda seed, problem: optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True),
    "tpe_independent": lambda seed, problem: optuna.samplers.TPESampler(seed=seed, multivariate=False),
    "gp": lambda seed, problem: optuna.samplers.GPSampler(seed=seed),
    "cmaes_margin": lambda seed, problem: optuna.samplers.CmaEsSampler(seed=seed, with_margin=True),
    "random": lambda seed, problem: optuna.samplers.RandomSampler(seed=seed),
    # CatCMAwM (cmaes.CatCMAwM) on the shared parameters, random search for conditional ones (benchmarks/catcmawm.py).
    "catcmawm": _catcmawm,
}
# CatCMAwM runs only in the suites that name it (the LoRA ones); the published suites' peers stay as they were run.
BASELINES = tuple(name for name in SAMPLERS if not name.startswith("cascade") and name != "catcmawm")
ABLATION_SAMPLERS = tuple(f"cascade_{a}" for a in ABLATIONS)
TPE_VARIANTS = ("tpe_default", "tpe_mv_group", "tpe_independent")


def make_sampler(name: str, seed: int, problem: Problem) -> optuna.samplers.BaseSampler:
    try:
        factory = SAMPLERS[name]
    except KeyError:
        raise KeyError(f"unknown sampler {name!r}; known: {sorted(SAMPLERS)}") from None
    return factory(seed, problem)


def sampler_state(sampler: optuna.samplers.BaseSampler, study: optuna.Study) -> dict:
    """The flags that decide how a sampler behaves in ``study``, recorded in every result row."""
    keys = ("_group", "_constant_liar", "_n_startup_trials", "_with_margin")
    state = {k.lstrip("_"): getattr(sampler, k) for k in keys if hasattr(sampler, k)}
    if isinstance(
        sampler, optuna.samplers.TPESampler
    ):  # multivariate=None resolves per study (True if single-objective)
        state["multivariate"] = sampler._is_multivariate(study)
    return state
