"""A benchmark problem built from the table of real LoRA fine-tuning runs (:mod:`benchmarks.lora_runs`).

YAHPO Gym's recipe: fit a surrogate on real runs, and let the benchmark ask the surrogate instead of training. Here:

* **The split.** Configurations whose number is ``4 mod 5`` (a fifth of the table, :func:`is_held_out`) are held out:
  the surrogate the samplers are judged against never sees them, and they measure how well it ranks runs it did not
  see (:func:`fit_report`). The replicates (configurations 0-19 at seeds 1 and 2) measure run-to-run noise.
* **The surrogate** (:class:`Surrogate`): a random forest (scikit-learn, 200 trees, fixed seed) with one output per
  point of the validation-loss curve (steps 15, 30, 45 and 60), on the parameters encoded as Trainer takes them (one-hot
  choices, log learning rate and weight decay, warmup, SGD's momentum). The target is the validation loss capped
  at :data:`LOSS_CAP`: a diverged run (loss not finite or above 10) counts as the cap, the way a user's objective
  reports a failed run as a bad value rather than as nothing.
* **Nearest run** (:class:`NearestRun`): the cross-check. The loss of the training run nearest in the same encoding;
  no model at all. The fit report gives both rank correlations.
* **Noise.** ``evaluate`` adds Gaussian noise at the measured run-to-run level (:func:`replicate_noise_sd`, the pooled
  standard deviation over the replicated configurations that never reached the cap); ``true_value`` is the surrogate's
  mean.
* **Multi-fidelity.** :meth:`LoraTableProblem.curve` gives the predicted curve, for pruners: the value at each
  evaluation step.

The problem's search space is the table's, as a Trainer user writes it (``benchmarks.lora_runs.SPACE``): seven
categorical lists (optimizer, scheduler, LoRA r, alpha, target modules, dropout, batch size), the learning rate,
warmup ratio and weight decay, and SGD's momentum under SGD.
"""

from __future__ import annotations

from collections.abc import Sequence
import functools
import math
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from benchmarks import lora_runs
from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params


LOSS_CAP = 1.0
"""Validation loss that a diverged run counts as, and the most any run counts as (chance on two classes: 0.69)."""
HELD_OUT_MOD = 5
"""Configurations ``c`` with ``c % HELD_OUT_MOD == HELD_OUT_MOD - 1`` are held out of the surrogate."""
N_TREES = 200
FAMILY_SAMPLE = 20_000
"""Random configurations the family minima are estimated from (:meth:`LoraTableProblem.family_minima`)."""


def is_held_out(config: int) -> bool:
    return config % HELD_OUT_MOD == HELD_OUT_MOD - 1


def capped(loss: float | None) -> float:
    """The target of a run's loss: diverged or missing is :data:`LOSS_CAP`, and nothing counts worse."""
    if loss is None or not math.isfinite(loss):
        return LOSS_CAP
    return min(float(loss), LOSS_CAP)


def encode(params: Sequence[Params]) -> np.ndarray:
    """Rows of features: a one-hot block per categorical parameter, then log10 learning rate, log10 weight decay,
    warmup ratio, and SGD's momentum (0 when the optimizer is not SGD)."""
    columns: list[np.ndarray] = []
    for name in lora_runs.CATEGORICAL:
        choices = lora_runs.SPACE[name]
        columns.append(np.array([[float(p[name] == c) for c in choices] for p in params]).reshape(len(params), -1))
    numbers = [
        [
            math.log10(p["learning_rate"]),
            math.log10(p["weight_decay"]),
            p["warmup_ratio"],
            p.get("sgd_momentum", 0.0) if p["optim"] == "sgd" else 0.0,
        ]
        for p in params
    ]
    columns.append(np.array(numbers, dtype=float).reshape(len(params), 4))
    return np.hstack(columns)


def curve_targets(row: dict, steps: Sequence[int]) -> list[float]:
    """The run's capped loss at each of ``steps``; after a divergence (the run stopped) every later step is the cap."""
    at = {int(step): value for step, value in row["curve"]}
    return [capped(at.get(step)) for step in steps]


def replicate_noise_sd(rows: Sequence[dict]) -> float:
    """Pooled within-configuration standard deviation of the final loss over configurations with 2+ seeds.

    A configuration with a seed at the cap (diverged, or worse than :data:`LOSS_CAP`) is left out: the gap between a
    run that diverged and one that did not is a failure, not run-to-run noise of the loss, and it would inflate the
    noise added to every evaluation."""
    by_config: dict[int, list[float]] = {}
    for r in rows:
        by_config.setdefault(r["config"], []).append(capped(r["final"]))
    groups = [np.array(v) for v in by_config.values() if len(v) >= 2 and max(v) < LOSS_CAP]
    if not groups:
        raise ValueError("no configuration has two or more seeds all below the cap: no usable replicates yet")
    ss = sum(float(((g - g.mean()) ** 2).sum()) for g in groups)
    dof = sum(len(g) - 1 for g in groups)
    return math.sqrt(ss / dof)


class Surrogate:
    """One random forest with an output per curve step, fitted on the seed-0 rows of the training part."""

    def __init__(self, rows: Sequence[dict], seed: int = 0) -> None:
        from sklearn.ensemble import RandomForestRegressor

        first = [r for r in rows if r["seed"] == 0]
        if len(first) < 10:
            raise ValueError(f"the surrogate needs at least 10 runs, got {len(first)}")
        self.steps = sorted({int(s) for r in first for s, _ in r["curve"]})
        x = encode([r["params"] for r in first])
        y = np.array([curve_targets(r, self.steps) for r in first])
        forest = RandomForestRegressor(n_estimators=N_TREES, min_samples_leaf=2, random_state=seed, n_jobs=1)
        self.forest = forest.fit(x, y)

    def predict_curve(self, params: Sequence[Params]) -> np.ndarray:
        """``(len(params), len(steps))`` predicted capped losses."""
        return self.forest.predict(encode(params)).reshape(len(params), len(self.steps))

    def predict(self, params: Sequence[Params]) -> np.ndarray:
        return self.predict_curve(params)[:, -1]


class NearestRun:
    """The final loss of the nearest training run (features scaled to unit range): the model-free cross-check."""

    def __init__(self, rows: Sequence[dict]) -> None:
        first = [r for r in rows if r["seed"] == 0]
        x = encode([r["params"] for r in first])
        self._low, span = x.min(0), np.ptp(x, 0)
        self._scale = np.where(span > 0, span, 1.0)
        self._x = (x - self._low) / self._scale
        self._y = np.array([capped(r["final"]) for r in first])

    def predict(self, params: Sequence[Params]) -> np.ndarray:
        q = (encode(params) - self._low) / self._scale
        d = ((q[:, None, :] - self._x[None, :, :]) ** 2).sum(-1)
        return self._y[d.argmin(1)]


def split(rows: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """``(training part, held-out part)`` of the table, by configuration number."""
    train = [r for r in rows if not is_held_out(r["config"])]
    held = [r for r in rows if is_held_out(r["config"])]
    return train, held


def fit_report(rows: Sequence[dict]) -> dict[str, Any]:
    """How well the surrogate and the nearest run rank the held-out runs (Spearman), per curve step, and the noise."""
    from scipy.stats import spearmanr

    train, held = split(rows)
    held0 = [r for r in held if r["seed"] == 0]
    surrogate = Surrogate(train)
    nearest = NearestRun(train)
    truth = np.array([curve_targets(r, surrogate.steps) for r in held0])
    predicted = surrogate.predict_curve([r["params"] for r in held0])
    ok = np.array([r["status"] == "ok" for r in held0])
    report: dict[str, Any] = {
        "runs": len(rows),
        "training_runs": sum(r["seed"] == 0 for r in train),
        "held_out_runs": len(held0),
        "held_out_not_ok": int((~ok).sum()),  # diverged or out of memory
        "steps": surrogate.steps,
        "spearman_surrogate_by_step": [
            round(float(spearmanr(truth[:, j], predicted[:, j])[0]), 4) for j in range(len(surrogate.steps))
        ],
        "spearman_nearest_run_final": round(
            float(spearmanr(truth[:, -1], nearest.predict([r["params"] for r in held0]))[0]), 4
        ),
        "spearman_surrogate_final_ok_runs": round(float(spearmanr(truth[ok, -1], predicted[ok, -1])[0]), 4),
        "mean_absolute_error_final": round(float(np.abs(truth[:, -1] - predicted[:, -1]).mean()), 4),
    }
    try:
        report["noise_sd"] = round(replicate_noise_sd(rows), 5)
    except ValueError:
        report["noise_sd"] = None
    return report


@functools.lru_cache(maxsize=2)
def _fitted(folder: str) -> tuple[Surrogate, float]:
    rows = lora_runs.read_rows(Path(folder))
    train, _ = split(rows)
    return Surrogate(train), replicate_noise_sd(rows)


class LoraTableProblem:
    """The table's surrogate as a benchmark problem (see the module docstring)."""

    name = "lora_table"
    strategic_params: tuple[str, ...] = ()  # every strategic parameter is a categorical list, as users write them
    reference_problem = None

    def __init__(self, folder: Path = lora_runs.DATA_DIR) -> None:
        self.surrogate, self.noise_sd = _fitted(str(folder))

    def suggest(self, trial: optuna.Trial) -> Params:
        space = lora_runs.SPACE
        p: Params = {name: trial.suggest_categorical(name, space[name]) for name in lora_runs.CATEGORICAL}
        for name in ("learning_rate", "warmup_ratio", "weight_decay"):
            low, high, log = space[name]
            p[name] = trial.suggest_float(name, low, high, log=log)
        if p["optim"] == "sgd":
            low, high, _ = space["sgd_momentum"]
            p["sgd_momentum"] = trial.suggest_float("sgd_momentum", low, high)
        return p

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        true_value = float(self.surrogate.predict([params])[0])
        noise = self.noise_sd * float(np.random.default_rng(noise_seed).normal())
        return Evaluation(true_value + noise, true_value)

    def curve(self, params: Params) -> list[tuple[int, float]]:
        """The predicted noise-free validation loss at each evaluation step (the multi-fidelity form)."""
        return list(zip(self.surrogate.steps, self.surrogate.predict_curve([params])[0].tolist()))

    def optimum(self) -> None:
        return None  # the forest's minimum over the mixed space is not known exactly

    @staticmethod
    def family(params: Params) -> str:
        return str(params["optim"])

    @functools.cache  # noqa: B019 (one problem object per process)
    def family_minima(self) -> dict[str, float]:
        """The best predicted value per optimizer among :data:`FAMILY_SAMPLE` random configurations (an estimate)."""
        sample = [lora_runs.draw_params(10_000_000 + i) for i in range(FAMILY_SAMPLE)]
        values = self.surrogate.predict(sample)
        out: dict[str, float] = {}
        for p, v in zip(sample, values):
            out[p["optim"]] = min(out.get(p["optim"], math.inf), float(v))
        return out


RESULTS = Path(__file__).resolve().parents[1] / "results" / "lora_table"


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.problems.lora_table``: write the surrogate's fit report (``surrogate_fit.json``)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m benchmarks.problems.lora_table", description=main.__doc__)
    parser.add_argument("--runs", type=Path, default=lora_runs.DATA_DIR, help="the table's folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = fit_report(lora_runs.read_rows(args.runs))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "surrogate_fit.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
