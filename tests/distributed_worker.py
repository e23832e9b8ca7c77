"""One worker process of the distributed tests: loads a shared study and runs trials.

Usage: python distributed_worker.py STORAGE STUDY N_TRIALS WORKER_ID [--hang-on-trial K FLAG]
       [--hang-in-ask K FLAG [--no-early-heartbeat]] [--memory-budget B]

STORAGE is an RDB URL (``postgresql+psycopg2://...``, ``sqlite:///...``; RDB storages get a
heartbeat so a killed worker's RUNNING trial is failed later) or ``journal:PATH`` for a
``JournalStorage`` on a file. With ``--hang-on-trial K FLAG`` the worker's K-th trial writes FLAG
and then sleeps, so the test can kill it in the middle of a trial. With ``--hang-in-ask K FLAG`` the
worker stops inside ``study.ask()`` of its K-th trial (in the sampler's ``before_trial``, after the
shipped one ran; ``--no-early-heartbeat`` skips the shipped one, as the sampler was before it recorded
a heartbeat there), before Optuna's heartbeat thread starts. With ``--memory-budget B`` the
objective is the planted constrained one of ``test_constraints.py`` (a batch size whose memory must
stay under ``B``; SGD, not AdamW, is the best family within it), its constraint set with
``trial.set_constraint``.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings

import optuna

from cascaderl_optuna import CascadeSampler


BEST_LR = {"adamw": 1e-3, "sgd": 1e-1, "adafactor": 1e-2}
FLOOR = {"adamw": 0.0, "sgd": 3.0, "adafactor": 1.5}
# the constrained variant (--memory-budget), as tests/test_constraints.py's planted problem
CONSTRAINED_FLOOR = {"adamw": 0.0, "sgd": 0.3, "adafactor": 0.2}
MEMORY_PER_SAMPLE = {"adamw": 4.0, "sgd": 1.0, "adafactor": 2.0}


def make_storage(spec: str) -> optuna.storages.BaseStorage:
    if spec.startswith("journal:"):
        backend = optuna.storages.journal.JournalFileBackend(spec[len("journal:") :])
        return optuna.storages.JournalStorage(backend)
    return optuna.storages.RDBStorage(spec, heartbeat_interval=1, grace_period=3)


class HangingInAsk(CascadeSampler):
    """The shipped sampler, stopped inside ``study.ask()`` of the worker's K-th trial."""

    def __init__(self, *, hang_on: int, flag: str, early_heartbeat: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self._hang_on, self._flag, self._early_heartbeat, self._asked = hang_on, flag, early_heartbeat, 0

    def before_trial(self, study, trial):  # type: ignore[no-untyped-def]
        if self._early_heartbeat:
            super().before_trial(study, trial)
        self._asked += 1
        if self._asked == self._hang_on:
            with open(self._flag, "w") as f:
                f.write(str(trial.number))
            time.sleep(600)


def main() -> None:
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec, study_name, n_trials, worker = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    hang_on, flag = None, None
    if "--hang-on-trial" in sys.argv:
        i = sys.argv.index("--hang-on-trial")
        hang_on, flag = int(sys.argv[i + 1]), sys.argv[i + 2]
    sampler = CascadeSampler(seed=100 + worker, n_startup_trials=8)
    if "--hang-in-ask" in sys.argv:
        i = sys.argv.index("--hang-in-ask")
        sampler = HangingInAsk(
            hang_on=int(sys.argv[i + 1]),
            flag=sys.argv[i + 2],
            early_heartbeat="--no-early-heartbeat" not in sys.argv,
            seed=100 + worker,
            n_startup_trials=8,
        )
    study = optuna.load_study(study_name=study_name, storage=make_storage(spec), sampler=sampler)
    done = [0]

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        opt = trial.suggest_categorical("optimizer", ["adamw", "sgd", "adafactor"])
        lr = trial.suggest_float("learning_rate", 1e-6, 1.0, log=True)
        warmup = trial.suggest_float("warmup_ratio", 0.0, 0.2)
        if opt == "sgd":
            trial.suggest_float("momentum", 0.0, 0.99)
        done[0] += 1
        if hang_on is not None and done[0] == hang_on:
            with open(flag, "w") as f:
                f.write(str(trial.number))
            time.sleep(600)
        time.sleep(0.02)  # let the workers' trials interleave
        gap = math.log10(lr) - math.log10(BEST_LR[opt])
        if gap > 2.0:
            trial.set_user_attr("fail_reason", "diverged: learning rate two decades above optimum")
            raise RuntimeError("diverged")
        return FLOOR[opt] + 0.5 * gap**2 + (warmup - 0.1) ** 2

    if "--memory-budget" in sys.argv:
        budget = float(sys.argv[sys.argv.index("--memory-budget") + 1])

        def objective(trial: optuna.Trial) -> float:  # the constrained variant
            trial.set_user_attr("worker", worker)
            opt = trial.suggest_categorical("optimizer", ["adamw", "sgd", "adafactor"])
            lr = trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
            batch = trial.suggest_float("batch_size", 8.0, 256.0, log=True)
            trial.set_constraint("memory", batch * MEMORY_PER_SAMPLE[opt] - budget)
            time.sleep(0.02)
            gap = math.log10(lr) - math.log10(BEST_LR[opt])
            return CONSTRAINED_FLOOR[opt] + 0.5 * gap**2 + 0.2 * math.log2(256.0 / batch)

    study.optimize(objective, n_trials=n_trials, catch=(RuntimeError,))
    print(f"worker {worker} pid {os.getpid()} done")


if __name__ == "__main__":
    main()
