"""Each use of Optuna's private API (cascaderl_optuna/_cascade/optuna_compat.py) does what the package relies on.

One test per function: a new Optuna release that renames one of them fails here, next to the function to mend.
"""

from __future__ import annotations

import time

import optuna
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.pruners import HyperbandPruner
from optuna.storages import RDBStorage
from optuna.trial import TrialState
import pytest

from cascaderl_optuna._cascade import optuna_compat as compat


optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(**kwargs):
    study = optuna.create_study(**kwargs)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    return study


def _heartbeat_storage(tmp_path, interval=60, grace=None):
    return RDBStorage(
        f"sqlite:///{tmp_path / 'hb.db'}", heartbeat_interval=interval, grace_period=grace or 2 * interval
    )


def test_study_storage_is_the_storage_the_study_writes_to():
    study = _study()
    storage = compat.study_storage(study)
    assert [t.number for t in storage.get_all_trials(compat.study_id(study))] == [0, 1, 2]


def test_study_id_names_the_study_in_its_storage(tmp_path):
    storage = RDBStorage(f"sqlite:///{tmp_path / 'ids.db'}")
    optuna.create_study(storage=storage, study_name="a")
    b = optuna.create_study(storage=storage, study_name="b")
    assert compat.study_id(b) == storage.get_study_id_from_name("b")


def test_trial_id_is_what_the_storage_takes():
    study = _study()
    trial = study.trials[1]
    assert compat.study_storage(study).get_trial(compat.trial_id(trial)).number == 1


def test_study_trials_filters_by_state_without_copying():
    study = _study()
    study.ask()  # RUNNING
    assert len(compat.study_trials(study)) == 4
    finished = compat.study_trials(study, (TrialState.COMPLETE,))
    assert [t.number for t in finished] == [0, 1, 2]
    assert compat.study_trials(study)[0] is compat.study_trials(study)[0]  # the stored object, read twice
    assert compat.study_trials(study)[0] is not study.trials[0]  # where the public API hands out a copy
    assert [t.number for t in compat.study_trials(study, use_cache=False)] == [0, 1, 2, 3]


def test_is_multi_objective():
    assert not compat.is_multi_objective(optuna.create_study())
    assert compat.is_multi_objective(optuna.create_study(directions=["minimize", "maximize"]))


def test_owning_study_sees_through_a_hyperband_bracket():
    seen = []

    class Recording(optuna.samplers.RandomSampler):
        def sample_independent(self, study, trial, name, dist):
            seen.append(compat.owning_study(study))
            return super().sample_independent(study, trial, name, dist)

    study = optuna.create_study(sampler=Recording(seed=0), pruner=HyperbandPruner())
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert seen and all(s is study for s in seen)
    plain = optuna.create_study()
    assert compat.owning_study(plain) is plain


def test_in_optimize_loop_is_true_only_inside_optimize():
    study = optuna.create_study()
    inside = []
    study.optimize(lambda t: inside.append(compat.in_optimize_loop(study)) or 0.0, n_trials=1)
    assert inside == [True]
    assert not compat.in_optimize_loop(study)


def test_set_trial_system_attr_is_read_back_with_the_trial():
    study = optuna.create_study()
    study.ask()
    compat.set_trial_system_attr(study, compat.trial_id(compat.study_trials(study)[0]), "cascade:test", {"a": 1})
    assert study.trials[0].system_attrs["cascade:test"] == {"a": 1}


def test_process_constraints_after_trial_stores_the_constraints():
    study = optuna.create_study()
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    frozen = compat.study_trials(study)[0]
    compat.process_constraints_after_trial(lambda t: [0.5, -1.0], study, frozen, TrialState.COMPLETE)
    study.tell(trial, 1.0)
    assert list(study.trials[0].constraints.values()) == [0.5, -1.0]


def test_contains():
    assert compat.contains(FloatDistribution(0, 1), 0.5)
    assert not compat.contains(FloatDistribution(0, 1), 2.0)
    assert not compat.contains(IntDistribution(0, 10, step=2), 3.0)


def test_search_space_groups_refine_by_each_trials_parameters():
    a, b, c = FloatDistribution(0, 1), IntDistribution(0, 3), FloatDistribution(0, 2)
    groups = compat.SearchSpaceGroups()
    assert groups.groups() == []
    groups.add_distributions({"a": a, "b": b})
    assert groups.groups() == [{"a": a, "b": b}]
    # "a" keeps the distribution it was first seen with
    groups.add_distributions({"a": FloatDistribution(0, 5), "c": c})
    assert sorted(groups.groups(), key=lambda g: sorted(g)) == [{"a": a}, {"b": b}, {"c": c}]
    groups.add_distributions({"a": a, "c": c})  # a set seen before changes nothing
    assert len(groups.groups()) == 3


def test_heartbeat_enabled(tmp_path):
    assert compat.heartbeat_enabled(_heartbeat_storage(tmp_path))
    assert not compat.heartbeat_enabled(optuna.storages.InMemoryStorage())


def test_record_heartbeat_keeps_a_trial_from_going_stale(tmp_path):
    storage = _heartbeat_storage(tmp_path, interval=1)
    study = optuna.create_study(storage=storage)
    study.ask()
    frozen = compat.study_trials(study)[0]
    assert compat.never_beaten_running_ids(storage, compat.study_id(study)) == [compat.trial_id(frozen)]
    compat.record_heartbeat(study, frozen)
    assert compat.never_beaten_running_ids(storage, compat.study_id(study)) == []


def test_stale_trial_ids_names_the_trials_whose_heartbeat_is_old(tmp_path):
    storage = _heartbeat_storage(tmp_path, interval=1, grace=1)
    study = optuna.create_study(storage=storage)
    study.ask()
    frozen = compat.study_trials(study)[0]
    compat.record_heartbeat(study, frozen)
    assert compat.stale_trial_ids(study) in ([], [compat.trial_id(frozen)])  # fresh, unless this machine stalled
    deadline = time.monotonic() + 30  # the beat goes stale after the 1 s grace period; poll, however slow the clock
    while compat.stale_trial_ids(study) == [] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert compat.stale_trial_ids(study) == [compat.trial_id(frozen)]
    compat.record_heartbeat(study, frozen)
    assert compat.stale_trial_ids(study) in ([], [compat.trial_id(frozen)])
    assert compat.stale_trial_ids(optuna.create_study()) == []  # no heartbeats: none


def test_rdb_storage_sees_through_the_cache(tmp_path):
    storage = RDBStorage(f"sqlite:///{tmp_path / 'rdb.db'}")
    study = optuna.create_study(storage=storage)
    assert compat.rdb_storage(compat.study_storage(study)) is storage
    assert compat.rdb_storage(optuna.storages.InMemoryStorage()) is None


def test_never_beaten_running_ids_ignores_finished_and_beating_trials(tmp_path):
    storage = _heartbeat_storage(tmp_path)
    study = optuna.create_study(storage=storage)
    study.optimize(lambda t: 0.0, n_trials=1)  # finished
    beating = study.ask()
    compat.record_heartbeat(study, compat.study_trials(study)[beating.number])
    silent = study.ask()
    ids = compat.never_beaten_running_ids(storage, compat.study_id(study))
    assert ids == [compat.trial_id(compat.study_trials(study)[silent.number])]
    compat.record_heartbeat(study, compat.study_trials(study)[silent.number])
    assert compat.never_beaten_running_ids(storage, compat.study_id(study)) == []


_DEFINED = [n for n, f in vars(compat).items() if callable(f) and getattr(f, "__module__", None) == compat.__name__]


@pytest.mark.parametrize("name", _DEFINED)
def test_every_function_of_the_module_is_tested_here(name):
    source = open(__file__).read()
    assert f"compat.{name}(" in source
