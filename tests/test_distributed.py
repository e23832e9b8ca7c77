"""Many workers on one study: PostgreSQL (a real server), JournalStorage on a file, SQLite.

Every worker is its own process with its own CascadeSampler; all learning goes through storage.
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState
from postgres_server import postgres_server
import pytest

from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.history import read_history
from cascaderl_optuna._cascade.orphans import ORPHAN_ATTR
from cascaderl_optuna._cascade.records import PolicyDiagnostics


pytestmark = pytest.mark.slow  # a real PostgreSQL server and worker processes


WORKER = str(Path(__file__).with_name("distributed_worker.py"))
N_WORKERS = 4
TRIALS_PER_WORKER = 20


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["postgresql", "journal", "sqlite"])
def storage_spec(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    if request.param == "journal":
        return f"journal:{tmp_path / 'journal.log'}"
    return f"sqlite:///{tmp_path / 'study.db'}"


def _storage(spec):
    sys.path.insert(0, str(Path(WORKER).parent))
    from distributed_worker import make_storage

    return make_storage(spec)


def _start_worker(spec, name, n_trials, worker, *extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(
        [sys.executable, WORKER, spec, name, str(n_trials), str(worker), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_workers_share_one_study_and_all_learn(storage_spec):
    name = f"shared-{time.time_ns()}"
    optuna.create_study(study_name=name, storage=_storage(storage_spec))
    workers = [_start_worker(storage_spec, name, TRIALS_PER_WORKER, w) for w in range(N_WORKERS)]
    for w in workers:
        out, err = w.communicate(timeout=600)
        assert w.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name=name, storage=_storage(storage_spec))
    trials = study.trials
    # None lost, none duplicated: trial numbers are exactly 0..N-1, each run by one worker.
    assert sorted(t.number for t in trials) == list(range(N_WORKERS * TRIALS_PER_WORKER))
    assert len({t._trial_id for t in trials}) == len(trials)
    for t in trials:
        assert t.state in (TrialState.COMPLETE, TrialState.FAIL)
        if t.state == TrialState.FAIL:
            assert t.user_attrs["fail_reason"].startswith("diverged")
    per_worker = {w: [t for t in trials if t.user_attrs["worker"] == w] for w in range(N_WORKERS)}
    assert all(len(ts) == TRIALS_PER_WORKER for ts in per_worker.values())
    # All workers learn from all trials. The tuning share gives SGD and Adafactor their 16 tuning
    # trials each (across the workers, so pooled over them), then the learned policy moves to
    # AdamW: 16 runs of this study on this machine (half with a busy process on one of the two
    # cores) put 42-48 of the 80 trials on AdamW and 16-20 on each other family. When the tuning
    # trials fall is up to the interleaving of four processes on two cores, so the count of AdamW
    # among each worker's last 8 varied from 3 to 8 and the pooled last 32 from 20 to 26 (a clean-clone
    # CI run saw 19): the totals are the statistic. 38 or more on AdamW happens 0.6% of the time
    # under a sampler choosing at random (binomial, 80 at a third), and every family keeping 12 or
    # more says no worker abandoned one before its tuning trials; no worker may be stuck elsewhere.
    counts = {o: sum(t.params["optimizer"] == o for t in trials) for o in ("adamw", "sgd", "adafactor")}
    assert counts["adamw"] >= 38, counts
    assert min(counts["sgd"], counts["adafactor"]) >= 12, counts
    for w, ts in per_worker.items():
        late = [t.params["optimizer"] for t in sorted(ts, key=lambda t: t.number)[-8:]]
        assert late.count("adamw") >= 2, (w, late)
    # Decisions made while other workers' trials were running saw them as pending.
    assert any((p := PolicyDiagnostics.read(t)) is not None and p.high_level is not None for t in trials)


def test_killed_worker_is_failed_by_heartbeat_and_a_fresh_process_resumes(postgres_url, tmp_path):
    name = f"crash-{time.time_ns()}"
    optuna.create_study(study_name=name, storage=_storage(postgres_url))
    first = _start_worker(postgres_url, name, 30, 0)
    assert first.wait(timeout=600) == 0
    flag = tmp_path / "hanging"
    victim = _start_worker(postgres_url, name, 5, 1, "--hang-on-trial", "2", str(flag))
    deadline = time.time() + 300
    while not flag.exists():
        assert time.time() < deadline and victim.poll() is None, (
            victim.stderr.read() if victim.poll() is not None else "timeout"
        )
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    hung_number = int(flag.read_text())
    study = optuna.load_study(study_name=name, storage=_storage(postgres_url))
    assert study.trials[hung_number].state == TrialState.RUNNING  # the kill left it running

    time.sleep(4.5)  # past the grace period: the heartbeat is stale
    # Until some worker fails it, the dead worker's trial is RUNNING, but no longer pending for the cascade.
    study = optuna.load_study(study_name=name, storage=_storage(postgres_url))
    history = read_history(study.trials, study.direction, window=200)
    assert hung_number in [t.number for t in history.running]
    assert hung_number not in [t.number for t in CascadeSampler()._without_dead(study, history).running]
    fresh = _start_worker(postgres_url, name, 6, 2)
    assert fresh.wait(timeout=600) == 0, fresh.stderr.read()[-2000:]
    study = optuna.load_study(study_name=name, storage=_storage(postgres_url))
    assert study.trials[hung_number].state == TrialState.FAIL  # failed by fail_stale_trials
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    resumed = [t for t in study.trials if t.user_attrs.get("worker") == 2]
    assert len(resumed) == 6
    # The fresh process continues the learned policy: its first decision already favours AdamW.
    probs = PolicyDiagnostics.read(resumed[0]).probs["optimizer"]
    assert probs[0] == max(probs) and probs[0] > 0.5
    # (not a count of AdamW among the six: the tuning share gives untuned families their trials first)


@pytest.mark.parametrize("early_heartbeat", [False, True], ids=["before-the-fix", "shipped"])
def test_a_worker_killed_inside_ask_leaves_no_zombie(postgres_url, tmp_path, early_heartbeat):
    """Optuna writes a trial's first heartbeat from a thread it starts once study.ask() has returned: a worker
    killed inside ask() (here: in the sampler's before_trial, every time) leaves a RUNNING trial with no heartbeat,
    which fail_stale_trials never fails. The shipped sampler records the first heartbeat in before_trial, and fails
    the trials that never beat (killed before that hook) as orphans."""
    name = f"ask-kill-{early_heartbeat}-{time.time_ns()}"
    optuna.create_study(study_name=name, storage=_storage(postgres_url))
    flag = tmp_path / "in-ask"
    extra = [] if early_heartbeat else ["--no-early-heartbeat"]
    victim = _start_worker(postgres_url, name, 5, 1, "--hang-in-ask", "3", str(flag), *extra)
    deadline = time.time() + 300
    while not flag.exists():
        assert time.time() < deadline and victim.poll() is None, (
            victim.stderr.read() if victim.poll() is not None else "timeout"
        )
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    number = int(flag.read_text())
    study = optuna.load_study(study_name=name, storage=_storage(postgres_url))
    assert study.trials[number].state == TrialState.RUNNING
    time.sleep(4.5)  # past the grace period (3 s)
    optuna.storages.fail_stale_trials(study)
    state = optuna.load_study(study_name=name, storage=_storage(postgres_url)).trials[number].state
    if early_heartbeat:
        assert state == TrialState.FAIL  # failed like any trial of a dead worker
    else:
        assert state == TrialState.RUNNING  # the zombie: no heartbeat, so never stale
        # The same state is what a kill in Optuna's own window (between create_new_trial and before_trial) leaves,
        # which no early heartbeat can close: the next worker's sampler fails it as an orphan.
        nxt = _start_worker(postgres_url, name, 1, 2)
        assert nxt.wait(timeout=300) == 0, nxt.stderr.read()
        zombie = optuna.load_study(study_name=name, storage=_storage(postgres_url)).trials[number]
        assert zombie.state == TrialState.FAIL
        assert ORPHAN_ATTR in zombie.system_attrs


def test_workers_learn_a_constraint_from_each_other_s_trials(postgres_url):
    """Two processes on PostgreSQL, constraint values set by the objective (``trial.set_constraint``): every trial
    stores them, the best trial fits, and both workers' later trials mostly fit, which only the constraint values
    stored by both tell them: unconstrained, the best is AdamW at the largest batch, four times over the budget.

    Measured on 24 runs of this study (8 of them with a busy process on one of the two cores): 26 to 39 of the last
    40 trials fit, each worker's last 10 at least 5; the same workers with the constraint kept out of the study (8
    runs) fit 0 to 6 of the last 40 and at most 2 of a worker's last 10. Which family the two end on is not asserted
    here: SGD, the best within the budget, in 22 of the 24 runs, and AdamW's basin in 2 (the best-family basin
    shortfall in docs/benchmarks.md); the single-process, seeded
    ``test_constraints.py::test_both_levels_learn_the_feasible_region_and_the_family_that_is_best_within_it``
    asserts the family."""
    name = f"constrained-{time.time_ns()}"
    optuna.create_study(study_name=name, storage=_storage(postgres_url))
    budget = 192.0  # AdamW fits a batch of 48, Adafactor 96, SGD 192: within it SGD is best (0.383), AdamW 0.483
    workers = [_start_worker(postgres_url, name, 40, w, "--memory-budget", str(budget)) for w in range(2)]
    for w in workers:
        out, err = w.communicate(timeout=600)
        assert w.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name=name, storage=_storage(postgres_url))
    trials = sorted(study.trials, key=lambda t: t.number)
    assert sorted(t.number for t in trials) == list(range(80))
    assert all(t.state == TrialState.COMPLETE and set(t.constraints) == {"memory"} for t in trials)
    fits = lambda t: t.constraints["memory"] <= 0  # noqa: E731
    assert fits(study.best_trial)
    tail = trials[-40:]
    assert sum(fits(t) for t in tail) >= 20, [round(t.constraints["memory"]) for t in tail]
    for worker in (0, 1):
        late = [t for t in trials if t.user_attrs["worker"] == worker][-10:]
        assert sum(fits(t) for t in late) >= 3, (worker, [round(t.constraints["memory"]) for t in late])
