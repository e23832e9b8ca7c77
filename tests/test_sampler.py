"""CascadeSampler with the optuna features users rely on: storage, ask/tell, enqueue, pruning."""

import json
import math
import warnings

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
import pytest
import threadpoolctl

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade import optuna_compat as compat
from cascaderl_optuna._cascade.records import Decision
from cascaderl_optuna._cascade.records import DECISION_KEY
from cascaderl_optuna._cascade.records import FORMAT_VERSION
from cascaderl_optuna._cascade.records import MAX_CHUNK
from cascaderl_optuna._cascade.records import POLICY_KEY
from cascaderl_optuna._cascade.records import PolicyDiagnostics


def planted(trial):
    """Three optimizer families; each has its own best learning rate and floor."""
    opt = trial.suggest_categorical("optimizer", ["adamw", "sgd", "adafactor"])
    lr = trial.suggest_float("learning_rate", 1e-6, 1.0, log=True)
    if opt == "sgd":
        trial.suggest_float("momentum", 0.0, 0.99)
    best = {"adamw": 1e-3, "sgd": 1e-1, "adafactor": 1e-2}[opt]
    floor = {"adamw": 0.0, "sgd": 1.0, "adafactor": 0.5}[opt]
    return floor + (math.log10(lr) - math.log10(best)) ** 2


def _suggestions(study):
    return [(t.params, t.state) for t in study.trials]


def test_same_seed_same_results_give_same_suggestions():
    runs = []
    for _ in range(2):
        study = optuna.create_study(sampler=CascadeSampler(seed=7, n_startup_trials=5))
        study.optimize(planted, n_trials=25)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]
    other = optuna.create_study(sampler=CascadeSampler(seed=8, n_startup_trials=5))
    other.optimize(planted, n_trials=25)
    assert [t.params for t in other.trials] != runs[0]


def test_decision_and_behaviour_log_probs_are_stored_with_each_trial():
    study = optuna.create_study(sampler=CascadeSampler(seed=0, n_startup_trials=5))
    study.optimize(planted, n_trials=12)
    agent_trials = study.trials[5:]
    for t in agent_trials:
        decision = Decision.read(t)
        assert decision is not None
        head = CategoricalDistribution(["adamw", "sgd", "adafactor"])
        assert decision.strategy["optimizer"] == head.to_internal_repr(t.params["optimizer"])
        assert decision.hl_log_prob["optimizer"] < 0.0
        assert set(decision.ll_log_prob) >= {"learning_rate"}
        probs = PolicyDiagnostics.read(t).probs["optimizer"]
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        # The stored log-prob is the log of the stored probability of the chosen strategy.
        assert math.exp(decision.hl_log_prob["optimizer"]) == pytest.approx(
            probs[decision.strategy["optimizer"]], abs=1e-4
        )
    for t in study.trials[:5]:
        assert Decision.read(t) is None  # the space-filling start decides nothing


@pytest.mark.slow  # fresh Python processes
def test_new_process_on_same_storage_continues_the_same_learning(tmp_path):
    """Storage is the source of truth: a fresh sampler on a copy of the storage decides exactly
    what the sampler that wrote the history decides (its in-process caches change nothing)."""
    import shutil

    path = tmp_path / "study.db"
    original = CascadeSampler(seed=3, n_startup_trials=6)
    study = optuna.create_study(storage=f"sqlite:///{path}", study_name="s", sampler=original)
    study.optimize(planted, n_trials=40)
    shutil.copy(path, tmp_path / "copy.db")

    study.optimize(planted, n_trials=3)
    resumed = optuna.load_study(
        study_name="s",
        storage=f"sqlite:///{tmp_path / 'copy.db'}",
        sampler=CascadeSampler(seed=3, n_startup_trials=6),
    )
    resumed.optimize(planted, n_trials=3)
    assert [t.params for t in resumed.trials] == [t.params for t in study.trials]
    # ...and what it continues is a learned policy, not a cold start.
    probs = PolicyDiagnostics.read(resumed.trials[-1]).probs["optimizer"]
    assert max(probs) > 0.5


def test_enqueued_and_fixed_parameters_are_respected_and_learned_from():
    study = optuna.create_study(sampler=CascadeSampler(seed=0, n_startup_trials=3))
    study.optimize(planted, n_trials=8)
    # Fully enqueued: optuna never asks the sampler; the trial is off-policy data.
    study.enqueue_trial({"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    # Partly enqueued: the strategy is fixed, the cascade tunes the rest for that strategy.
    study.enqueue_trial({"optimizer": "adafactor"})
    study.optimize(planted, n_trials=2)
    full, part = study.trials[-2:]
    assert full.params == {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.9}
    assert Decision.read(full) is None
    assert part.params["optimizer"] == "adafactor"
    decision = Decision.read(part)
    assert decision.strategy["optimizer"] == 2
    assert "optimizer" not in decision.hl_log_prob  # fixed, not sampled: no behaviour prob
    assert "learning_rate" in decision.ll_log_prob

    partial = optuna.create_study(
        sampler=optuna.samplers.PartialFixedSampler(
            {"optimizer": "adafactor"}, CascadeSampler(seed=0, n_startup_trials=3)
        )
    )
    partial.optimize(planted, n_trials=12)
    assert {t.params["optimizer"] for t in partial.trials} == {"adafactor"}
    lrs = [t.params["learning_rate"] for t in partial.trials[-4:]]
    assert all(1e-4 < lr < 1.0 for lr in lrs)  # moving towards adafactor's optimum, 1e-2


def test_ask_tell_with_pruned_failed_and_nan_trials():
    study = optuna.create_study(sampler=CascadeSampler(seed=0, n_startup_trials=4))
    for i in range(30):
        trial = study.ask()
        value = planted(trial)
        if i % 7 == 3:
            trial.report(value * 0.1, step=1)  # looks better than anything, but it is pruned
            study.tell(trial, state=TrialState.PRUNED)
        elif i % 7 == 5:
            study.tell(trial, state=TrialState.FAIL)
        elif i % 7 == 6:
            study.tell(trial, float("nan"))
        else:
            study.tell(trial, value)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.PRUNED) == 4 and states.count(TrialState.FAIL) == 8
    assert all(t.params for t in study.trials)


def test_pruned_trials_rank_below_complete_ones_and_failures_at_the_bottom():
    from cascaderl_optuna._cascade.history import rank_utilities

    study = optuna.create_study()
    dist = {"x": FloatDistribution(0, 1)}
    for state, value, inter in [
        (TrialState.COMPLETE, 5.0, None),
        (TrialState.PRUNED, None, {1: -100.0}),
        (TrialState.PRUNED, None, {3: 50.0}),
        (TrialState.FAIL, None, None),
        (TrialState.COMPLETE, float("inf"), None),
        (TrialState.COMPLETE, 1.0, None),
    ]:
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": 0.5},
                distributions=dist,
                value=value,
                state=state,
                intermediate_values=inter or {},
            )
        )
    u = rank_utilities(study.trials, study.direction)
    order = list(np.argsort(-u))
    assert order[:4] == [5, 0, 2, 1]  # complete by value, then pruned by step reached
    assert u[3] == u[4] == u.min()  # FAIL and inf tie at the bottom


def test_maximisation_is_direction_aware():
    # 70 trials: every family gets TUNING_TRIALS of its own first (48 here), the comparison decides the rest
    study = optuna.create_study(direction="maximize", sampler=CascadeSampler(seed=1, n_startup_trials=6))
    study.optimize(lambda t: -planted(t), n_trials=70)
    last = [t.params["optimizer"] for t in study.trials[-15:]]
    assert last.count("adamw") >= 8


def test_multi_objective_is_a_clear_error():
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=CascadeSampler())
    with pytest.raises(ValueError, match="multi-objective"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.0), n_trials=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_startup_trials": 0}, "n_startup_trials"),
        ({"startup": "sobol"}, "startup must be 'qmc' or 'random'"),
        ({"probability_floor": 0.0}, "probability_floor"),
        ({"probability_floor": 1.0}, "probability_floor"),
        ({"gamma": 1.0}, "gamma"),
        ({"pending_timeout": 0}, "pending_timeout must be a number of seconds > 0 or None"),
        ({"clip": 0.0}, "clip"),
        ({"window": 1}, "window"),
        ({"strategic_params": "lora_rank"}, "sequence of parameter names"),
        ({"high_level_theta": [1.0, 2.0]}, "8 finite numbers"),
        ({"seed": "zero"}, "seed"),
    ],
)
def test_bad_constructor_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CascadeSampler(**kwargs)


_BAD_ARGUMENTS = {
    "seed": [-1, True, 1.5, "0"],
    "strategic_params": ["lora_rank", None, 5],
    "n_startup_trials": [0, True, 2.0, "3", None],
    "startup": ["sobol", None, ["qmc"]],
    "window": [1, True, 10.0, "200", None],
    "critic_window": [1, True, 10.0, "120", None],
    "critic_refit_interval": [0, True, 10.0, "10", None],
    "probability_floor": [0.0, 1.0, "0.15", None, True, float("nan")],
    "gamma": [1.0, -0.1, "0.9", None, True, float("nan")],
    "clip": [0.0, 1.0, None, "0.2", True],
    "exploration": [-1.0, "1", None, True, float("inf"), float("nan")],
    "high_level_theta": ["prior", [1.0, 2.0], [0.0] * 7 + ["1"], [0.0] * 7 + [float("nan")], 5.0, [[0.0] * 8]],
    "pending_timeout": [0, -1.0, True, "60"],
    "constraints_func": [1, "f"],
}


@pytest.mark.parametrize(
    "name, value", [(name, value) for name, values in _BAD_ARGUMENTS.items() for value in values], ids=repr
)
def test_every_bad_constructor_argument_is_refused_by_name(name, value):
    with pytest.raises(ValueError) as raised:
        CascadeSampler(**{name: value})
    assert str(raised.value).startswith(f"{name} must be"), str(raised.value)


def test_the_theta_message_counts_the_features():
    from cascaderl_optuna._cascade.encoding import N_FEATURES

    with pytest.raises(ValueError, match=rf"high_level_theta must be {N_FEATURES} numbers or 'pretrained'"):
        CascadeSampler(high_level_theta="prior")


def test_long_records_are_chunked_for_rdb_storage(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'c.db'}")
    trial = study.ask()
    record = PolicyDiagnostics(probs={f"head{i}": [0.123456] * 40 for i in range(10)}, entropy=1.5)
    assert len(json.dumps(record.to_json())) > MAX_CHUNK
    frozen = compat.study_trials(study)[trial.number]
    record.write(study, compat.trial_id(frozen))
    frozen = compat.study_storage(study).get_trial(compat.trial_id(frozen))
    chunks = [k for k in frozen.system_attrs if k.startswith(POLICY_KEY + ":")]
    assert len(chunks) > 2 and POLICY_KEY not in frozen.system_attrs
    assert all(len(v) <= MAX_CHUNK for k, v in frozen.system_attrs.items() if k in chunks and isinstance(v, str))
    assert PolicyDiagnostics.read(frozen) == record


def test_records_round_trip_and_unreadable_ones_read_as_absent():
    decision = Decision(
        strategy={"optimizer": 2},
        hl_log_prob={},
        critic_gap={"optimizer": [0.0, -0.5, -1.0]},
        ll_log_prob={"learning_rate": -1.25},
        ll_mean={"learning_rate": 0.4},
        ll_std={"learning_rate": 0.1},
    )
    assert Decision.from_json(json.loads(json.dumps(decision.to_json()))) == decision
    assert decision.to_json()["version"] == FORMAT_VERSION
    trial = optuna.trial.create_trial(
        params={},
        distributions={},
        value=1.0,
        system_attrs={DECISION_KEY: json.dumps({**decision.to_json(), "version": FORMAT_VERSION + 1})},
    )
    assert Decision.read(trial) is None  # a newer format: its fields may mean something else
    for corrupt in ("{not json", json.dumps([1, 2]), json.dumps({"strategy": {"optimizer": "adamw"}})):
        trial = optuna.trial.create_trial(params={}, distributions={}, value=1.0, system_attrs={DECISION_KEY: corrupt})
        assert Decision.read(trial) is None
    # Non-finite diagnostics (JSON cannot carry them) are stored as null and read back as absent.
    nan_policy = PolicyDiagnostics(probs={"o": [0.5, 0.5]}, entropy=float("nan"), high_level={"pg_loss": float("inf")})
    stored = json.loads(json.dumps(nan_policy.to_json()))
    assert stored["entropy"] is None and stored["high_level"] == {"pg_loss": None}
    assert PolicyDiagnostics.from_json(stored).entropy is None


def test_a_multi_objective_study_is_a_clear_error_at_its_first_trial():
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=CascadeSampler(seed=0))
    with pytest.raises(ValueError, match="CascadeSampler is single-objective.*NSGAIISampler"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.FAIL]  # failed, not left RUNNING


def test_conditional_parameters_are_tuned_only_where_they_exist():
    study = optuna.create_study(sampler=CascadeSampler(seed=2, n_startup_trials=5))
    study.optimize(planted, n_trials=30)
    for t in study.trials:
        assert ("momentum" in t.params) == (t.params["optimizer"] == "sgd")


def test_trials_from_another_sampler_are_used_as_off_policy_data():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(planted, n_trials=40)
    study.sampler = CascadeSampler(seed=0)
    study.optimize(planted, n_trials=1)
    probs = PolicyDiagnostics.read(study.trials[-1]).probs["optimizer"]
    # The random trials alone already tell the high level that AdamW is the best family.
    assert int(np.argmax(probs)) == 0 and probs[0] > 0.4


def test_parallel_threads_share_one_sampler_safely():
    sampler = CascadeSampler(seed=0, n_startup_trials=4)
    study = optuna.create_study(sampler=sampler)
    study.optimize(planted, n_trials=24, n_jobs=4)
    assert len(study.trials) == 24
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len({t.number for t in study.trials}) == 24


_SUBPROCESS_STUDY = """
import json, math, optuna, warnings
warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)
from cascaderl_optuna import CascadeSampler
def objective(trial):
    opt = trial.suggest_categorical("optimizer", ["adamw", "sgd", "adafactor"])
    sched = trial.suggest_categorical("scheduler", ["cosine", "linear", "constant"])
    lr = trial.suggest_float("learning_rate", 1e-6, 1.0, log=True)
    wd = trial.suggest_float("weight_decay", 1e-5, 1e-1, log=True)
    return (math.log10(lr) + 3) ** 2 + (opt != "adamw") + 0.1 * (sched != "cosine") + 0.01 * math.log10(wd) ** 2
study = optuna.create_study(sampler=CascadeSampler(seed=11, n_startup_trials=5))
study.optimize(objective, n_trials=15)
print(json.dumps([t.params for t in study.trials]))
"""


@pytest.mark.slow  # fresh Python processes
def test_suggestions_do_not_depend_on_the_process_hash_seed():
    """Two processes with different PYTHONHASHSEED (set iteration order) suggest the same."""
    import os
    import subprocess
    import sys

    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        result = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_STUDY], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
    assert len({json.dumps(p, sort_keys=True) for p in outputs[0]}) == 15


def test_running_trials_spread_the_pending_choices():
    """Workers asking while earlier trials still run do not all get the same strategy (the
    agent-level mechanism is tested in test_agents.test_high_level_spreads_pending_choices)."""
    study = optuna.create_study(sampler=CascadeSampler(seed=0, n_startup_trials=6))
    study.optimize(planted, n_trials=6)
    pending = [study.ask() for _ in range(6)]
    for trial in pending:
        trial.suggest_categorical("optimizer", ["adamw", "sgd", "adafactor"])
        trial.suggest_float("learning_rate", 1e-6, 1.0, log=True)
    chosen = [t.params["optimizer"] for t in pending]
    assert len(set(chosen)) >= 2


def test_sampler_pickles_and_the_copy_decides_the_same():
    import pickle

    study = optuna.create_study(sampler=CascadeSampler(seed=5, n_startup_trials=5))
    study.optimize(planted, n_trials=15)
    copy = pickle.loads(pickle.dumps(study.sampler))
    twin = optuna.create_study(sampler=copy)
    for t in study.trials:
        twin.add_trial(t)
    study.optimize(planted, n_trials=3)
    twin.optimize(planted, n_trials=3)
    assert [t.params for t in twin.trials[-3:]] == [t.params for t in study.trials[-3:]]


def test_a_running_trial_older_than_pending_timeout_is_not_pending():
    """Without heartbeats a dead worker's trial stays RUNNING for ever; past ``pending_timeout`` it stops
    counting as pending (the high level's pending share, the critic's constant liar)."""
    import datetime

    from cascaderl_optuna._cascade.history import read_history
    from cascaderl_optuna._cascade.history import without_stale

    study = optuna.create_study(sampler=CascadeSampler(seed=0, n_startup_trials=3))
    study.optimize(planted, n_trials=5)
    dead = study.ask()
    planted(dead)  # it has its parameters, and its worker died before telling
    history = read_history(study.trials, study.direction, window=200)
    (running,) = history.running
    started = running.datetime_start
    assert without_stale(history, set(), None, started + datetime.timedelta(days=9)).running == [running]
    assert without_stale(history, set(), 60.0, started + datetime.timedelta(seconds=30)).running == [running]
    assert without_stale(history, set(), 60.0, started + datetime.timedelta(seconds=61)).running == []
    assert without_stale(history, {compat.trial_id(running)}, None, started).running == []  # a stale heartbeat
    # Through the sampler: with a timeout the dead trial is left out of what the next decision sees.
    seen = []

    class Spy(CascadeSampler):
        def _decide(self, study, trial, history, *args):  # type: ignore[no-untyped-def]
            seen.append([t.number for t in history.running])
            return super()._decide(study, trial, history, *args)

    for timeout in (None, 1e-9):
        study.sampler = Spy(seed=0, n_startup_trials=3, pending_timeout=timeout)
        trial = study.ask()
        planted(trial)
        study.tell(trial, 1.0)
    assert seen == [[dead.number], []]


def test_the_samplers_maths_runs_on_one_blas_thread_and_the_users_setting_comes_back():
    sampler = CascadeSampler(seed=0, n_startup_trials=3)
    decide = sampler._decide
    inside = []

    def probing_decide(*args, **kwargs):
        inside.append([pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"])
        return decide(*args, **kwargs)

    sampler._decide = probing_decide
    study = optuna.create_study(sampler=sampler)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        study.optimize(planted, n_trials=6)
        after = [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
    assert len(inside) == 3 and all(threads and set(threads) == {1} for threads in inside)
    assert after and set(after) == {2}


@pytest.mark.parametrize("seed", [-1, True, 1.5, "0"])
def test_a_bad_seed_is_refused_by_name(seed):
    with pytest.raises(ValueError, match=r"seed must be None .* or an int >= 0"):
        CascadeSampler(seed=seed)


def test_warm_start_that_is_neither_a_study_nor_trials_is_refused_by_name():
    with pytest.raises(TypeError, match=r"warm_start must be an optuna.Study .* got int: 123"):
        CascadeSampler(warm_start=123)
    with pytest.raises(TypeError, match=r"warm_start must be .* a sequence holding str"):
        CascadeSampler(warm_start=["not a trial"])


def _conditional(trial):
    opt = trial.suggest_categorical("optimizer", ["adamw", "sgd"])
    lr = trial.suggest_float("learning_rate", 1e-4, 1.0, log=True)
    return (0.0 if opt == "adamw" else 0.5) + abs(math.log10(lr) + 2)


def test_an_unknown_strategic_param_is_warned_about_once_when_the_start_up_ends():
    study = optuna.create_study(sampler=CascadeSampler(seed=0, n_startup_trials=3, strategic_params=("lora_rnak",)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study.optimize(_conditional, n_trials=3)  # a conditional parameter may still appear
    with pytest.warns(UserWarning, match=r"strategic_params names \['lora_rnak'\].*\['learning_rate', 'optimizer'\]"):
        study.optimize(_conditional, n_trials=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study.optimize(_conditional, n_trials=4)  # once per study


def _unknown_name_warnings(study, **optimize):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # a second warning would be recorded, not deduplicated
        study.optimize(_conditional, **optimize)
    return [w for w in caught if "strategic_params names ['lora_rnak']" in str(w.message)]


def test_the_unknown_name_warning_fires_once_per_study_with_threads():
    sampler = CascadeSampler(seed=0, n_startup_trials=3, strategic_params=("lora_rnak",))
    first = optuna.create_study(sampler=sampler)
    assert len(_unknown_name_warnings(first, n_trials=12, n_jobs=2)) == 1
    assert len(_unknown_name_warnings(first, n_trials=2, n_jobs=2)) == 0
    second = optuna.create_study(sampler=sampler)  # the same sampler, reused: the new study is checked too
    assert len(_unknown_name_warnings(second, n_trials=12, n_jobs=2)) == 1


def test_a_continuous_strategic_param_is_refused_at_the_first_trial_that_shows_it():
    study = optuna.create_study(
        sampler=CascadeSampler(seed=0, n_startup_trials=10, strategic_params=("learning_rate",))
    )
    study.optimize(_conditional, n_trials=1)  # nothing to check against yet
    with pytest.raises(ValueError, match=r"'learning_rate' is named strategic .* continuous.*strategic_params"):
        study.optimize(_conditional, n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL]  # no RUNNING trial left behind
    assert study.trials[0].params  # what was stored stays
