"""The per-trial cache of the sampler's hot path, and the schedule of the critic's refits.

Both exist to cut the sampler's cost per trial; neither may change what it decides. The cache must
compute each finished trial once, keep no more than the window, and never hand one study's values
to another; the refit schedule must keep the fixed cadence early and thin out in long studies.
"""

import math
import pickle

import optuna
from optuna.trial import TrialState
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna import sampler as sampler_module
from cascaderl_optuna._cascade.refit import refit_point
from cascaderl_optuna._cascade.trial_cache import FinishedTrialCache


def _study_with_values(values, storage=None):
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    for v in values:
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=v))
    return study


def test_each_finished_trial_is_computed_once_and_only_the_window_is_kept():
    study = _study_with_values([float(i) for i in range(10)])
    trials = study._get_trials(deepcopy=False)
    cache = FinishedTrialCache()
    computed = []

    def compute(t):
        computed.append(t.number)
        return t.value * 2

    assert cache.values(study, trials[:6], "double", compute) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert cache.values(study, trials[3:9], "double", compute) == [6.0, 8.0, 10.0, 12.0, 14.0, 16.0]
    assert computed == [0, 1, 2, 3, 4, 5, 6, 7, 8]  # the overlap was not computed again
    # Trials that left the window are forgotten: reading one again computes it again.
    assert cache.values(study, trials[:1], "double", compute) == [0.0]
    assert computed[-1] == 0
    # Another tag is another value of the same trial.
    assert cache.values(study, trials[:2], "negate", lambda t: -t.value) == [-0.0, -1.0]


def test_another_study_or_storage_never_gets_the_first_study_s_values():
    first = _study_with_values([1.0, 2.0])
    cache = FinishedTrialCache()
    assert cache.values(first, first.trials, "value", lambda t: t.value) == [1.0, 2.0]
    # A fresh in-memory storage numbers its trials (and its study) from 0 again, like the first.
    other_storage = _study_with_values([5.0, 6.0])
    assert [t._trial_id for t in other_storage.trials] == [t._trial_id for t in first.trials]
    assert cache.values(other_storage, other_storage.trials, "value", lambda t: t.value) == [5.0, 6.0]
    same_storage = _study_with_values([7.0], storage=first._storage)
    assert cache.values(same_storage, same_storage.trials, "value", lambda t: t.value) == [7.0]
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.values(first, first.trials, "value", lambda t: -1.0) == [-1.0, -1.0]  # starts empty


def _unconditional(trial):
    # No conditional parameter: one sampled by the independent fallback draws from a random
    # stream that (as in optuna's RandomSampler) goes on from study to study.
    opt = trial.suggest_categorical("optimizer", ["adamw", "sgd", "adafactor"])
    lr = trial.suggest_float("learning_rate", 1e-6, 1.0, log=True)
    return planted_value(opt, lr)


def planted_value(opt, lr):
    best = {"adamw": 1e-3, "sgd": 1e-1, "adafactor": 1e-2}[opt]
    floor = {"adamw": 0.0, "sgd": 1.0, "adafactor": 0.5}[opt]
    return floor + (math.log10(lr) - math.log10(best)) ** 2


def test_a_sampler_reused_on_another_study_decides_as_a_fresh_one():
    reused = CascadeSampler(seed=3, n_startup_trials=5)
    # The first study has other trials under the same trial ids (0, 1, ...) as the next ones.
    optuna.create_study(sampler=reused).optimize(lambda t: -_unconditional(t), n_trials=30)
    start = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    start.optimize(_unconditional, n_trials=5)
    second = optuna.create_study(sampler=reused)  # a fresh in-memory storage: same study id, trial ids 0..
    fresh = optuna.create_study(sampler=CascadeSampler(seed=3, n_startup_trials=5))
    for study in (second, fresh):
        for t in start.trials:
            study.add_trial(t)
        study.optimize(_unconditional, n_trials=10)
    assert [t.params for t in second.trials] == [t.params for t in fresh.trials]


def test_refit_points_keep_the_fixed_interval_early_and_then_every_five_percent():
    points = sorted({refit_point(n, 10) for n in range(1200)})
    assert points[:23] == list(range(0, 230, 10))  # the first 220 trials: every 10, as before
    gaps = [b - a for a, b in zip(points[1:], points[2:])]
    assert all(g == max(10, a // 20) for g, a in zip(gaps, points[1:]))
    assert points[23:26] == [231, 242, 254]
    assert 45 <= max(gaps) <= 60  # every ~50 trials at 1,000 trials
    assert refit_point(5, 10) == 0 and refit_point(10, 10) == 10 and refit_point(19, 10) == 10
    assert refit_point(7, 3) == 6  # a user's own interval is kept while it is longer than 5%


@pytest.mark.slow  # a long study (the schedule itself is tested fast above)
def test_a_long_study_refits_the_critic_only_at_the_refit_points(monkeypatch):
    fitted_on = []
    real_fit = sampler_module.fit_kernel

    def counting_fit(x, y):
        fitted_on.append(len(x))
        return real_fit(x, y)

    monkeypatch.setattr(sampler_module, "fit_kernel", counting_fit)
    study = optuna.create_study(sampler=CascadeSampler(seed=0, n_startup_trials=5, critic_window=20))
    study.optimize(_unconditional, n_trials=300)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    # Before the first refit point (10 trials) every decision fits on all its trials (5 to 9);
    # from then on, one fit per refit point reached.
    expected = 5 + len({refit_point(n, 10) for n in range(10, 300)})
    assert len(fitted_on) == expected
    assert len(fitted_on) < 5 + 29  # a fixed 10-trial interval would refit 29 times from 10 to 299


@pytest.mark.slow  # a long study (the schedule itself is tested fast above)
def test_a_long_study_refits_the_high_level_only_at_its_refit_points(monkeypatch):
    from cascaderl_optuna._cascade.high_level import HighLevelAgent

    fitted_on = []
    real_fit = HighLevelAgent.fit

    def counting_fit(self, choices, *args, **kwargs):
        fitted_on.append(len(choices))
        return real_fit(self, choices, *args, **kwargs)

    monkeypatch.setattr(HighLevelAgent, "fit", counting_fit)
    window = 30
    sampler = CascadeSampler(seed=1, n_startup_trials=5, window=window, critic_window=20)
    study = optuna.create_study(sampler=sampler)
    study.optimize(_unconditional, n_trials=120)
    # Every decision while the study fits in the window (5 to 30 finished trials), then one fit
    # per refit point (31, 32, ..., 40, 42, ..., every 5%), each on a full window.
    points = {refit_point(n, 1, first=window) for n in range(window + 1, 120)}
    assert len(fitted_on) == (window - 5 + 1) + len(points)
    assert fitted_on[: window - 4] == list(range(5, window + 1))
    assert set(fitted_on[window - 4 :]) == {window}
    assert len(points) < 120 - window - 1  # fewer fits than decisions

    # The reused fit is what a fresh process fits from the stored trials: same next decisions.
    twin = optuna.create_study(sampler=CascadeSampler(seed=1, n_startup_trials=5, window=window, critic_window=20))
    for t in study.trials:
        twin.add_trial(t)
    study.optimize(_unconditional, n_trials=3)
    twin.optimize(_unconditional, n_trials=3)
    assert [t.params for t in twin.trials[-3:]] == [t.params for t in study.trials[-3:]]


def test_memo_is_computed_once_per_key_and_per_study():
    first, other = _study_with_values([1.0]), _study_with_values([1.0])
    cache = FinishedTrialCache()
    calls = []
    assert cache.memo(first, ("fit", (0,)), lambda: calls.append(1) or "a") == "a"
    assert cache.memo(first, ("fit", (0,)), lambda: calls.append(1) or "b") == "a"
    assert cache.memo(other, ("fit", (0,)), lambda: calls.append(1) or "c") == "c"  # another study: recomputed
    assert len(calls) == 2


def test_memo_keeps_a_key_in_use_while_newer_keys_come_and_go():
    """The sampler looks up its high-level fit and its critic fit on every decision: a run of new
    critic keys must not evict the high-level fit that is still in use (least recently used goes)."""
    study = _study_with_values([1.0])
    cache = FinishedTrialCache()
    calls = []
    for i in range(10):
        cache.memo(study, "in use", lambda: calls.append("in use") or 0)
        cache.memo(study, ("new", i), lambda: calls.append("new") or 0)
    assert calls.count("in use") == 1 and calls.count("new") == 10
