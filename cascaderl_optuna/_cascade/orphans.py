"""Trials whose worker died before their first heartbeat: found and failed, so none stays RUNNING for good.

Inside ``study.optimize`` Optuna creates a trial (``create_new_trial``), reads it back and only then
calls the sampler's ``before_trial``, where the cascade records the trial's first heartbeat (see
``CascadeSampler.before_trial``). A worker killed in that window leaves a RUNNING trial with no
heartbeat and no parameter. ``optuna.storages.fail_stale_trials`` fails only trials whose heartbeat
is old, so it never fails that one (the 10-minute chaos soak in ``docs/many_workers.md`` left six).

An *orphan* is a RUNNING trial of a heartbeat-enabled RDB storage that has no heartbeat row, no
parameter, and was created more than the storage's grace period ago: the same tolerance Optuna gives
a trial whose beats stop, applied to one that never beat. Live trials are not orphans: a trial of
``study.optimize`` beats from ``before_trial`` on, and one that has started its objective has
parameters by its first ``suggest_*``. Two cases look alike and are failed too, which the docs say:
an ask-and-tell trial on a heartbeat storage (Optuna warns against that mix) and a trial of a worker
whose storage has no heartbeat, if neither has suggested anything after the grace period.

:func:`fail_orphaned_trials` fails them like ``fail_stale_trials`` fails stale ones (the storage's
stale-trial callback, such as ``RetryFailedTrialCallback``, runs for each) and marks each with the
system attribute :data:`ORPHAN_ATTR`. The sampler calls it at most once per grace period per process
(:class:`OrphanSweep`), so the cost is one small query per grace period per worker.
"""

from __future__ import annotations

import copy
import datetime
import threading
import time

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from cascaderl_optuna._cascade.optuna_compat import heartbeat_enabled
from cascaderl_optuna._cascade.optuna_compat import never_beaten_running_ids
from cascaderl_optuna._cascade.optuna_compat import rdb_storage
from cascaderl_optuna._cascade.optuna_compat import study_id
from cascaderl_optuna._cascade.optuna_compat import study_storage


ORPHAN_ATTR = "cascade:orphaned"
"""System attribute set on a trial failed as an orphan (its value: why)."""
_REASON = "RUNNING with no heartbeat and no parameter past the grace period: its worker died inside study.ask()"


def grace_period(storage: BaseStorage) -> float:
    """Seconds after which a trial without a fresh heartbeat counts as dead (Optuna's default: two intervals)."""
    rdb = rdb_storage(storage)
    interval = storage.get_heartbeat_interval()  # type: ignore[attr-defined]
    grace = rdb.grace_period if rdb is not None else None
    return float(grace if grace is not None else 2 * interval)


def fail_orphaned_trials(study: optuna.Study, now: datetime.datetime | None = None) -> list[int]:
    """Fail the study's orphans (see the module docstring); returns their trial numbers.

    Does nothing unless the study's storage is an RDB storage with heartbeats enabled. ``now``
    (the local clock, which wrote ``datetime_start``) is for tests.
    """
    storage = study_storage(study)
    rdb = rdb_storage(storage)
    if rdb is None or not heartbeat_enabled(storage):
        return []
    grace = grace_period(storage)
    now = now or datetime.datetime.now()
    failed = []
    for trial_id in never_beaten_running_ids(rdb, study_id(study)):
        trial = storage.get_trial(trial_id)
        if trial.params or trial.datetime_start is None:
            continue
        if (now - trial.datetime_start).total_seconds() <= grace:
            continue
        try:
            storage.set_trial_system_attr(trial_id, ORPHAN_ATTR, _REASON)
            if storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                failed.append(trial_id)
        except UpdateFinishedTrialError:
            continue  # another worker failed it first, or its own worker came back and finished it
    callback = storage.get_heartbeat_stale_trial_callback()  # type: ignore[attr-defined]
    numbers = []
    for trial_id in failed:
        trial = copy.deepcopy(storage.get_trial(trial_id))
        numbers.append(trial.number)
        if callback is not None:
            callback(study, trial)
    return numbers


class OrphanSweep:
    """Calls :func:`fail_orphaned_trials` at most once per grace period per study in this process.

    Thread-safe (``optimize(n_jobs=k)`` shares one sampler); pickles without its lock and its clock, so a
    copy of the sampler in another process sweeps on its first trial.
    """

    def __init__(self) -> None:
        self._next: dict[int, float] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()  # type: ignore[misc]

    def __call__(self, study: optuna.Study) -> list[int]:
        with self._lock:
            now = time.monotonic()
            if now < self._next.get(study_id(study), 0.0):
                return []
            self._next[study_id(study)] = now + grace_period(study_storage(study))
        return fail_orphaned_trials(study)
