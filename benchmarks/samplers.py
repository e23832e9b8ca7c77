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


def _cascade_budget(
    n_trials: int | None,
    release_gap: float | None = None,
    scale_tuning_trials: bool = False,
    release_growth: float | None = None,
) -> Callable[[int, Problem], optuna.samplers.BaseSampler]:
    def make(seed: int, problem: Problem) -> optuna.samplers.BaseSampler:
        from cascaderl_optuna import CascadeSampler

        class _Sampler(CascadeSampler):
            _tuning_release_gap = release_gap
            _scale_tuning_trials_to_budget = scale_tuning_trials
            _release_growth = release_growth

        return _Sampler(seed=seed, strategic_params=problem.strategic_params, n_trials=n_trials)

    return make


ABLATIONS = ("uniform_high_level", "no_low_level_learning", "flat", "no_tuning_share")  # benchmarks/ablations.py
SAMPLERS: dict[str, Callable[[int, Problem], optuna.samplers.BaseSampler]] = {
    "cascade": _cascade,
    # The ablations: the cascade with one part switched off (benchmarks/ablations.py).
    **{f"cascade_{a}": _cascade_ablation(a) for a in ABLATIONS},
    # The high level started from the weights pre-trained over synthetic studies (benchmarks/pretraining.py).
    "cascade_pretrained": _cascade_pretrained,
    # Research (branch research-small-budget): the tuning share scaled to a known budget of 50 or 200 trials.
    # First idea: tuning trials per choice scaled to the budget (round(0.4 * n / n_choices), 4 to 16).
    "cascade_budget50": _cascade_budget(50, scale_tuning_trials=True),
    # ... with a choice released from the share once its critic gap to the leader is below -1 (the second idea).
    "cascade_budget50_release1": _cascade_budget(50, 1.0, scale_tuning_trials=True),
    # Second idea alone, whatever the budget (release gap 1.0).
    "cascade_release1": _cascade_budget(None, 1.0),
    # Anytime release: gap max(1.0, 0.02 * trials seen): release1 until 50 trials, then the evidence must grow.
    "cascade_anytime": _cascade_budget(None, 1.0, release_growth=0.02),
    # Second idea as CascadeSampler(n_trials=n) ships it on the branch: release gap 0.02 * n (1.0 at 50, 4.0 at 200).
    **{f"cascade_n{n}": _cascade_budget(n) for n in (50, 100, 200)},
    # optuna 5 defaults: multivariate=True, constant_liar=True (see TPESampler's signature).
    "tpe_default": lambda seed, problem: optuna.samplers.TPESampler(seed=seed),
    "tpe_mv_group": lambda seed, problem: optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True),
    "tpe_independent": lambda seed, problem: optuna.samplers.TPESampler(seed=seed, multivariate=False),
    "gp": lambda seed, problem: optuna.samplers.GPSampler(seed=seed),
    "cmaes_margin": lambda seed, problem: optuna.samplers.CmaEsSampler(seed=seed, with_margin=True),
    "random": lambda seed, problem: optuna.samplers.RandomSampler(seed=seed),
}
BASELINES = tuple(name for name in SAMPLERS if not name.startswith("cascade"))
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
