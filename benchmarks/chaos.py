"""Chaos run: worker processes on one PostgreSQL study, killed with SIGKILL at random and restarted.

Each worker runs ``CascadeSampler`` on a planted problem (three optimizer families, AdamW the best) through
``study.optimize`` with an ``RDBStorage`` whose heartbeat fails a dead worker's trial. Until ``trials`` trials have
finished, every 4 to 10 of them (or, for a soak, for ``seconds``, every 3 to 7 seconds) one random worker is killed
with SIGKILL and a new one started in its place; at the end every
worker is killed, the grace period is waited out and ``fail_stale_trials`` is called; then the next worker runs one
trial. The run then reads the study back and reports what a user running many workers needs to hold:

* ``running``: trials still RUNNING (a zombie: its worker is dead and no heartbeat will fail it), and
  ``running_with_params`` those of them that had suggested parameters. The sampler records a trial's first heartbeat
  in ``before_trial``, before any parameter is suggested, so only a kill in the few milliseconds between Optuna's
  ``create_new_trial`` and ``before_trial`` (inside ``study.ask()``, where no sampler code runs) can leave a trial
  without one; it has no parameters, and every worker's sampler fails such *orphans* once they are older than the
  grace period (``cascaderl_optuna._cascade.orphans``). ``running_after_fail_stale`` counts the trials still RUNNING
  before the next worker's trial (the orphans of the last kills: what ``fail_stale_trials`` alone leaves), and
  ``orphans_failed`` the trials failed as orphans, during the run and by the next worker;
* ``contiguous``: trial numbers are exactly 0..n-1 (none lost, none duplicated);
* ``killed_failures`` against ``kills``: FAIL trials other than the objective's own failures, at most one per kill;
* ``outside``: parameters outside their distribution;
* ``tracebacks``: worker logs with a traceback;
* ``best_share_last_third``: the share of the last third of COMPLETE trials on the planted best family.

``tests/test_chaos.py`` runs it with 4 workers until 80 trials have finished, one worker killed every 4 to 10
finished trials, against a throwaway server (CI): counted in trials, so a loaded machine runs the same schedule. The
soak, 10 minutes with 8 workers, is a benchmark command::

    python -m benchmarks.chaos --workers 8 --seconds 600 --out benchmarks/results/chaos/soak.json

(without ``--storage`` it starts a throwaway PostgreSQL server on 127.0.0.1 with ``tests/postgres_server.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import json
import math
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any
import warnings

import optuna
from optuna.trial import TrialState

from cascaderl_optuna._cascade.orphans import ORPHAN_ATTR


BEST_LR = {"adamw": 1e-3, "sgd": 1e-1, "adafactor": 1e-2}
FLOOR = {"adamw": 0.0, "sgd": 3.0, "adafactor": 1.5}
HEARTBEAT_INTERVAL = 1
GRACE_PERIOD = 3


def storage(url: str) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD)


def objective(trial: optuna.Trial) -> float:
    """The planted problem: each family has its own best learning rate; AdamW is the best family."""
    opt = trial.suggest_categorical("optimizer", ["adamw", "sgd", "adafactor"])
    lr = trial.suggest_float("learning_rate", 1e-6, 1.0, log=True)
    warmup = trial.suggest_float("warmup_ratio", 0.0, 0.2)
    if opt == "sgd":
        trial.suggest_float("momentum", 0.0, 0.99)
    time.sleep(random.uniform(0.02, 0.2))  # the training run
    gap = math.log10(lr) - math.log10(BEST_LR[opt])
    if gap > 2.0:
        trial.set_user_attr("fail_reason", "diverged")
        raise RuntimeError("diverged")
    return FLOOR[opt] + 0.5 * gap**2 + (warmup - 0.1) ** 2


def worker(url: str, study_name: str, seed: int, n_trials: int = 100_000) -> None:
    """One worker: optimise until killed (or ``n_trials`` are done)."""
    from cascaderl_optuna import CascadeSampler

    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the objective's own failures are logged as warnings
    random.seed(seed)
    study = optuna.load_study(
        study_name=study_name, storage=storage(url), sampler=CascadeSampler(seed=seed, n_startup_trials=8)
    )
    study.optimize(objective, n_trials=n_trials, catch=(RuntimeError,))


def _finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)))


def _kill_by_trials(
    study: optuna.Study,
    trials: int,
    kill_every_trials: tuple[int, int],
    rng: random.Random,
    kill_one: Callable[[], None],
    deadline: float,
) -> None:
    """Kill one worker each time another 4 to 10 (``kill_every_trials``) trials have finished, until ``trials`` have.

    Counted in trials, not seconds, so a loaded machine runs the same schedule, only slower. ``deadline`` (seconds)
    bounds the loop: reaching it means the workers stopped making progress, and raises.
    """
    give_up = time.monotonic() + deadline
    next_kill = rng.randint(*kill_every_trials)
    while (finished := _finished_trials(study)) < trials:
        if time.monotonic() > give_up:
            raise RuntimeError(f"the workers finished {finished} of {trials} trials in {deadline:.0f} s: no progress")
        if finished >= next_kill:
            kill_one()
            next_kill = finished + rng.randint(*kill_every_trials)
        time.sleep(0.2)


def run(
    url: str,
    *,
    n_workers: int,
    trials: int | None = None,
    seconds: float | None = None,
    kill_every: tuple[float, float] = (3.0, 7.0),
    kill_every_trials: tuple[int, int] = (4, 10),
    seed: int = 0,
    log_dir: Path | None = None,
    deadline: float = 1800.0,
) -> dict[str, Any]:
    """The chaos run (see the module docstring); returns its figures.

    Either ``trials`` (kill a worker every ``kill_every_trials`` finished trials until that many have finished: what
    the test runs, the same on an idle and a loaded machine) or ``seconds`` (kill one every ``kill_every`` seconds: the
    soak).
    """
    if (trials is None) == (seconds is None):
        raise ValueError("give exactly one of trials= (a count of finished trials) and seconds= (a soak's length)")
    rng = random.Random(seed)
    study_name = f"chaos-{time.time_ns()}"
    optuna.create_study(study_name=study_name, storage=storage(url))
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="cascade-chaos-"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), *sys.path]))
    started = [0]
    logs: list[Path] = []

    def start(*n_trials: str) -> subprocess.Popen:
        started[0] += 1
        log = log_dir / f"worker-{started[0]}.log"
        logs.append(log)
        with log.open("w") as fh:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.chaos",
                    "worker",
                    url,
                    study_name,
                    str(1000 + started[0]),
                    *n_trials,
                ],
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )

    workers = [start() for _ in range(n_workers)]
    kills = 0

    def kill_one() -> None:
        nonlocal kills
        i = rng.randrange(n_workers)
        workers[i].send_signal(signal.SIGKILL)
        workers[i].wait()
        kills += 1
        workers[i] = start()

    if trials is not None:
        # One storage for the whole loop: a new one per poll would open a connection pool each time and exhaust the
        # server's connections.
        watched = optuna.load_study(study_name=study_name, storage=optuna.storages.RDBStorage(url))
        _kill_by_trials(watched, trials, kill_every_trials, rng, kill_one, deadline)
    else:
        end = time.time() + seconds
        while True:
            pause = rng.uniform(*kill_every)
            if time.time() + pause > end:
                break
            time.sleep(pause)
            kill_one()
        time.sleep(max(0.0, end - time.time()))
    for w in workers:
        w.send_signal(signal.SIGKILL)
        w.wait()
        kills += 1
    time.sleep(GRACE_PERIOD + 2 * HEARTBEAT_INTERVAL)  # every dead worker's heartbeat is stale now
    study = optuna.load_study(study_name=study_name, storage=storage(url))
    optuna.storages.fail_stale_trials(study)
    after_fail_stale = [t.number for t in study.get_trials() if t.state == TrialState.RUNNING]
    start("1").wait()  # the next worker: its sampler fails the orphans of the last kills
    trials = optuna.load_study(study_name=study_name, storage=storage(url)).trials
    killed_failures = [t for t in trials if t.state == TrialState.FAIL and "fail_reason" not in t.user_attrs]
    outside = [
        (t.number, name)
        for t in trials
        for name, value in t.params.items()
        if not t.distributions[name]._contains(t.distributions[name].to_internal_repr(value))
    ]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    last = complete[-max(1, len(complete) // 3) :]
    return {
        "workers": n_workers,
        "seconds": seconds,
        "trials_asked": trials,
        "trials": len(trials),
        "complete": len(complete),
        "kills": kills,
        "workers_started": started[0],
        "running": [t.number for t in trials if t.state == TrialState.RUNNING],
        "running_with_params": [t.number for t in trials if t.state == TrialState.RUNNING and t.params],
        "running_after_fail_stale": after_fail_stale,
        "orphans_failed": sum(ORPHAN_ATTR in t.system_attrs for t in trials),
        "contiguous": sorted(t.number for t in trials) == list(range(len(trials))),
        "killed_failures": len(killed_failures),
        "objective_failures": sum(t.state == TrialState.FAIL and "fail_reason" in t.user_attrs for t in trials),
        "outside": outside,
        "tracebacks": [log.name for log in logs if "Traceback" in log.read_text()],
        "best_share_last_third": sum(t.params["optimizer"] == "adamw" for t in last) / max(1, len(last)),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        worker(argv[1], argv[2], int(argv[3]), *map(int, argv[4:5]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=600.0, help="the soak's length (default 600)")
    parser.add_argument("--trials", type=int, help="run until this many trials have finished instead of --seconds")
    parser.add_argument("--storage", help="a PostgreSQL URL; default: a throwaway server on 127.0.0.1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    length = {"trials": args.trials} if args.trials is not None else {"seconds": args.seconds}
    if args.storage:
        result = run(args.storage, n_workers=args.workers, **length, seed=args.seed)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from postgres_server import postgres_server

        with postgres_server() as url:
            result = run(url, n_workers=args.workers, **length, seed=args.seed)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
