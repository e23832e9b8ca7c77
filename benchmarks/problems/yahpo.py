"""YAHPO Gym surrogate benchmarks (Pfisterer et al. 2022, "YAHPO Gym - An Efficient Multi-Objective Multi-Fidelity
Benchmark for Hyperparameter Optimization", AutoML-Conf).

The search space is the scenario's own (``get_opt_space(drop_fidelity_params=True)``: the same ranges, log scales and
conditions), evaluated at maximum fidelity with the deterministic surrogate. Targets follow the YAHPO-SO suite
(``benchmark_suites/v1.0/single.json``): ``acc`` for ``rbv2_*``, ``val_accuracy`` (percent) for ``lcbench``; the
problem minimises the error ``1 - acc`` or ``1 - val_accuracy / 100``. The optimum is not known.

On ``rbv2_xgboost`` 40499 the surrogate's accuracy reaches 1.0 (error 0) for many configurations (0.5% of random
ones), so that problem mostly measures how soon a sampler finds one.

``rbv2_xgboost`` is conditional: the booster (gblinear, gbtree, dart) gates six tree parameters and two dart
parameters. Its ``num.impute.selected.cpo`` (imputation method) is a categorical of the space and stays in it.

Evaluation runs in a child process, in its own environment (see ``_yahpo_worker.py``): the data path comes from
``$YAHPO_DATA`` (default ``../shared/data/yahpo`` relative to the repository root) and the interpreter from
``$BENCHMARKS_YAHPO_PYTHON`` (default ``benchmarks/.venv-yahpo/bin/python``, made by
``python -m benchmarks setup-yahpo``; else the current interpreter).
"""

from __future__ import annotations

import atexit
import json
import os
from pathlib import Path
import subprocess
import sys

import optuna

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params


REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO_ROOT / "benchmarks" / ".venv-yahpo" / "bin" / "python"
WORKER = Path(__file__).with_name("_yahpo_worker.py")


def target_of(scenario: str) -> tuple[str, float]:
    """YAHPO-SO's target and its scale: accuracy for every ``rbv2_*`` scenario, percent accuracy for lcbench."""
    if scenario == "lcbench":
        return "val_accuracy", 100.0
    if scenario.startswith("rbv2_"):
        return "acc", 1.0
    raise ValueError(f"no YAHPO-SO target known for scenario {scenario!r}: use lcbench or an rbv2_* scenario")


def data_path() -> Path:
    return Path(os.environ.get("YAHPO_DATA", REPO_ROOT.parent / "shared" / "data" / "yahpo")).resolve()


def worker_python() -> str:
    if "BENCHMARKS_YAHPO_PYTHON" in os.environ:
        return os.environ["BENCHMARKS_YAHPO_PYTHON"]
    return str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


class YahpoProblem:
    strategic_params: tuple[str, ...] = ()
    reference_problem = None

    def __init__(self, scenario: str, instance: str) -> None:
        short = scenario.removeprefix("rbv2_")
        self.name = f"yahpo_{short}_{instance}"
        self.scenario, self.instance = scenario, instance
        self.target, self.scale = target_of(scenario)
        path = data_path()
        if not (path / scenario / "model.onnx").exists():
            raise FileNotFoundError(f"no YAHPO surrogate for {scenario} under {path} (set YAHPO_DATA)")
        self._proc = subprocess.Popen(
            [worker_python(), str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        atexit.register(self.close)
        space = self._call({"scenario": scenario, "instance": instance, "data_path": str(path)})
        self.params, self.fidelity = space["params"], space["fidelity"]
        self.conditions = {c["child"]: c for c in space["conditions"]}

    def _call(self, message: dict) -> dict:
        self._proc.stdin.write(json.dumps(message) + "\n")
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"YAHPO worker ({worker_python()}) exited with {self._proc.wait()}")
        return json.loads(line)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait()

    def suggest(self, trial: optuna.Trial) -> Params:
        config: Params = {}
        pending = list(self.params)
        while pending:  # parents before children; the spaces here have one level of conditions
            hp = pending.pop(0)
            cond = self.conditions.get(hp["name"])
            if cond and cond["parent"] not in config:
                pending.append(hp)
                continue
            if cond and config[cond["parent"]] not in cond["values"]:
                continue
            name = hp["name"]
            if hp["type"] == "constant":
                config[name] = hp["value"]
            elif hp["type"] == "categorical":
                config[name] = trial.suggest_categorical(name, hp["choices"])
            elif hp["type"] == "int":
                config[name] = trial.suggest_int(name, hp["low"], hp["high"], log=hp["log"])
            else:
                config[name] = trial.suggest_float(name, hp["low"], hp["high"], log=hp["log"])
        return config

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        y = self._call(params)
        error = 1.0 - y[self.target] / self.scale
        return Evaluation(error, error)

    def optimum(self) -> None:
        return None
