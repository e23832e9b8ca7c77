"""Every use of Optuna's private API, in one place.

The sampler needs a few things Optuna does not publish: reading trials without copying them (the sampler re-reads its
window on every decision), writing a record to a trial the sampler does not hold a ``Trial`` for, the storage's
heartbeats (to tell a dead worker's trial from a running one), the ids that name a study and a trial in storage, and
the partition behind Optuna's group-decomposed search space.
Optuna's own samplers use the same names (``study._get_trials``, ``study._storage``, ...), which are not covered by its
deprecation policy: a new Optuna release may rename them. Each is wrapped here in a small named function, and
``tests/test_optuna_compat.py`` holds one behaviour test per function, so such a release fails in one module and one
test file, and is mended here.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Container
from collections.abc import Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers._base import _process_constraints_after_trial
from optuna.search_space.group_decomposed import _SearchSpaceGroup
from optuna.storages import BaseStorage
from optuna.storages import RDBStorage
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


# -- studies and trials in storage -----------------------------------------------------------------------------------
def study_storage(study: Study) -> BaseStorage:
    """The storage behind ``study``: where the sampler writes its records and reads heartbeats."""
    return study._storage


def study_id(study: Study) -> int:
    """The study's id in its storage (what the storage's own methods take)."""
    return study._study_id


def trial_id(trial: FrozenTrial) -> int:
    """The trial's id in its storage; unlike ``trial.number``, what the storage's methods take."""
    return trial._trial_id


def study_trials(
    study: Study, states: Container[TrialState] | None = None, *, use_cache: bool = True
) -> list[FrozenTrial]:
    """The study's trials (of ``states``, all by default), not copied: the sampler reads its window on every decision,
    and ``study.get_trials(deepcopy=False)`` neither filters by state without a copy nor uses the storage's cache.
    The trials must not be modified."""
    return study._get_trials(deepcopy=False, states=states, use_cache=use_cache)


def is_multi_objective(study: Study) -> bool:
    """Whether the study has more than one objective."""
    return study._is_multi_objective()


def owning_study(study: Study) -> Study:
    """The study a sampler is really working for: ``HyperbandPruner`` hands samplers a bracket's view of it."""
    return getattr(study, "_study", study)


def in_optimize_loop(study: Study) -> bool:
    """Whether the current thread is inside ``study.optimize`` (where Optuna keeps a trial's heartbeat beating)."""
    return bool(owning_study(study)._thread_local.in_optimize_loop)


def set_trial_system_attr(study: Study, id_in_storage: int, key: str, value: Any) -> None:
    """Store a system attribute on the trial of ``study`` whose storage id is ``id_in_storage`` (``FrozenTrial`` has
    no setter; ``Trial`` is not at hand)."""
    study_storage(study).set_trial_system_attr(id_in_storage, key, value)


def process_constraints_after_trial(
    constraints_func: Callable[[FrozenTrial], Sequence[float]], study: Study, trial: FrozenTrial, state: TrialState
) -> None:
    """Optuna's handling of a sampler's ``constraints_func`` (as TPE and GP samplers do it): call it on a finished
    trial and store the values where ``study.best_trial`` and ``trial.constraints`` read them."""
    _process_constraints_after_trial(constraints_func, study, trial, state)


def contains(distribution: BaseDistribution, internal: float) -> bool:
    """Whether ``distribution`` contains the value of internal representation ``internal``."""
    return distribution._contains(internal)


# -- search space ------------------------------------------------------------------------------------------------------
class SearchSpaceGroups:
    """Optuna's partition of parameters into groups that always appear together (what ``_GroupDecomposedSearchSpace``
    keeps): ``add_distributions(distributions)`` refines it by one trial's parameters, ``groups()`` lists the groups;
    a parameter keeps the distribution of the first trial that had it."""

    def __init__(self) -> None:
        self._groups = _SearchSpaceGroup()

    def add_distributions(self, distributions: dict[str, BaseDistribution]) -> None:
        self._groups.add_distributions(distributions)

    def groups(self) -> list[dict[str, BaseDistribution]]:
        return [dict(group) for group in self._groups.search_spaces]


# -- heartbeats --------------------------------------------------------------------------------------------------------
def heartbeat_enabled(storage: BaseStorage) -> bool:
    """Whether ``storage`` records heartbeats (an RDB or gRPC storage made with ``heartbeat_interval``)."""
    return is_heartbeat_enabled(storage)


def record_heartbeat(study: Study, trial: FrozenTrial) -> None:
    """Write a heartbeat for ``trial`` now (the storage must have heartbeats enabled)."""
    study_storage(study).record_heartbeat(trial_id(trial))  # type: ignore[attr-defined]


def stale_trial_ids(study: Study) -> list[int]:
    """Ids of the study's RUNNING trials whose heartbeat is older than the grace period; none without heartbeats."""
    storage = study_storage(study)
    if not is_heartbeat_enabled(storage):
        return []
    return list(storage._get_stale_trial_ids(study_id(study)))  # type: ignore[attr-defined]


def rdb_storage(storage: BaseStorage) -> RDBStorage | None:
    """The RDB storage behind ``storage`` (Optuna wraps it in a ``_CachedStorage``), or None."""
    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) else None


def never_beaten_running_ids(storage: RDBStorage, study_id: int) -> list[int]:
    """Ids of the study's RUNNING trials that have no heartbeat row (one query on Optuna's RDB schema): a worker killed
    before Optuna's first heartbeat leaves such a trial, which ``fail_stale_trials`` never fails."""
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(storage.scoped_session) as session:
        rows = (
            session.query(models.TrialModel.trial_id)
            .outerjoin(models.TrialHeartbeatModel, models.TrialHeartbeatModel.trial_id == models.TrialModel.trial_id)
            .filter(models.TrialModel.study_id == study_id)
            .filter(models.TrialModel.state == TrialState.RUNNING)
            .filter(models.TrialHeartbeatModel.trial_heartbeat_id.is_(None))
            .all()
        )
    return [int(r[0]) for r in rows]
