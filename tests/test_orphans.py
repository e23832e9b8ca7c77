"""Orphans: RUNNING trials whose worker died before their first heartbeat are failed, and nothing else is.

A trial created by ``storage.create_new_trial`` and never touched again is exactly what a worker killed between
Optuna's ``create_new_trial`` and the sampler's ``before_trial`` leaves behind (the kill itself, on PostgreSQL, is in
``test_distributed.py``)."""

from __future__ import annotations

import datetime
import pickle
import time
from types import SimpleNamespace

import optuna
from optuna.distributions import FloatDistribution
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna import fail_orphaned_trials
from cascaderl_optuna._cascade import orphans
from cascaderl_optuna._cascade.orphans import ORPHAN_ATTR
from cascaderl_optuna._cascade.orphans import OrphanSweep


GRACE = 2


def _storage(tmp_path, **kwargs):
    return optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}", **kwargs)


def _later(seconds: float) -> datetime.datetime:
    return datetime.datetime.now() + datetime.timedelta(seconds=seconds)


@pytest.fixture
def study(tmp_path):
    return optuna.create_study(storage=_storage(tmp_path, heartbeat_interval=1, grace_period=GRACE))


def _running_trial(study, *, param: bool = False, beat: bool = False) -> int:
    trial_id = study._storage.create_new_trial(study._study_id)
    if param:
        study._storage.set_trial_param(trial_id, "x", 0.5, FloatDistribution(0, 1))
    if beat:
        study._storage.record_heartbeat(trial_id)
    return trial_id


def test_only_a_paramless_never_beaten_trial_past_the_grace_period_is_failed(study):
    orphan = _running_trial(study)
    with_params = _running_trial(study, param=True)  # e.g. an ask-and-tell trial that has suggested
    beating = _running_trial(study, beat=True)  # a live trial of study.optimize
    assert fail_orphaned_trials(study) == []  # all younger than the grace period
    numbers = fail_orphaned_trials(study, now=_later(GRACE + 1))
    storage = study._storage
    assert numbers == [storage.get_trial(orphan).number]
    assert storage.get_trial(orphan).state == TrialState.FAIL
    assert "worker died" in storage.get_trial(orphan).system_attrs[ORPHAN_ATTR]
    assert storage.get_trial(with_params).state == TrialState.RUNNING
    assert storage.get_trial(beating).state == TrialState.RUNNING
    assert fail_orphaned_trials(study, now=_later(GRACE + 1)) == []  # a failed trial is not failed twice


def test_the_storages_stale_trial_callback_runs_for_each_orphan(tmp_path):
    storage = _storage(
        tmp_path,
        heartbeat_interval=1,
        grace_period=GRACE,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
    )
    study = optuna.create_study(storage=storage)
    orphan = _running_trial(study)
    fail_orphaned_trials(study, now=_later(GRACE + 1))
    retried = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert len(retried) == 1  # RetryHeartbeatStaleTrialCallback enqueued a copy, as after fail_stale_trials
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(retried[0]) == storage.get_trial(orphan).number


def test_without_heartbeats_nothing_is_an_orphan(tmp_path):
    study = optuna.create_study(storage=_storage(tmp_path))
    orphan = _running_trial(study)
    assert fail_orphaned_trials(study, now=_later(3600)) == []
    assert study._storage.get_trial(orphan).state == TrialState.RUNNING


def test_the_sampler_fails_an_orphan_in_its_next_trial_and_leaves_the_study_consistent(study):
    orphan = _running_trial(study)
    time.sleep(GRACE + 0.5)  # the orphan is now older than the grace period
    study.sampler = CascadeSampler(seed=0, n_startup_trials=2)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
    trials = study.get_trials()
    assert trials[study._storage.get_trial(orphan).number].state == TrialState.FAIL
    assert [t.state for t in trials[1:]] == [TrialState.COMPLETE] * 3
    assert [t.number for t in trials] == list(range(4))


def test_the_sweep_queries_at_most_once_per_grace_period_per_study_and_pickles_fresh(study, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(orphans, "fail_orphaned_trials", lambda s: calls.append(s._study_id) or [])
    clock = [100.0]
    monkeypatch.setattr(orphans, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    other = optuna.create_study(storage=study._storage)
    sweep = OrphanSweep()
    sweep(study), sweep(study), sweep(other)
    assert calls == [study._study_id, other._study_id]
    clock[0] += GRACE + 0.1
    sweep(study)
    assert calls[-1] == study._study_id and len(calls) == 3
    pickle.loads(pickle.dumps(sweep))(study)  # a copy in another process sweeps on its first trial
    assert len(calls) == 4
