"""The LoRA landscapes of :mod:`benchmarks.problems.llm_family`, written the way many users write a space for
transformers' Trainer: eight categorical lists and three numbers.

A user of ``Trainer.hyperparameter_search`` often lists every strategic choice, numeric levels included, with
``suggest_categorical`` under Trainer's own argument names. This family keeps the drawn landscape of
:mod:`~benchmarks.problems.llm_family` (same seed, same families, schedules, ranks, targets, noise and divergence
cliff) and changes only how the space is written and what the heads do:

* ``optim`` (the drawn families), ``lr_scheduler_type`` (the drawn schedules), ``lora_r`` (the drawn rank levels),
  ``lora_alpha`` (8, 16, 32, 64), ``lora_dropout`` (0, 0.05, 0.1), ``per_device_train_batch_size`` (8, 16, 32, 64),
  ``num_train_epochs`` (1, 2, 3) and ``lora_target_modules`` (the drawn target sets): eight categorical lists, most of
  them numeric levels (6,912 to 32,400 strategies in the published instances).
* ``learning_rate``, ``weight_decay`` (log) and ``warmup_ratio``: the numbers. SGD runs with momentum 0.9, gradient
  clipping is Trainer's default ``max_grad_norm=1.0``.
* **Three heads move the best learning rate**: the optimizer (by decades, as in the family), the batch size (square
  root for the adaptive families, linear for SGD) and ``lora_alpha`` with ``lora_r``: LoRA scales its update by
  ``alpha / r`` (Hu et al. 2022), so the rate that matters is ``learning_rate * alpha / (2 r)`` (``alpha = 2 r`` is the
  common convention; rsLoRA, Kalajdzievski 2023, is about exactly this coupling).
* **Schedule and rank as in the family**: mostly offsets, but the constant schedule lowers the best rate a little
  (0.05-0.2 decades) and the rank shifts it by at most 0.05 decades per doubling.
* **The others only add offsets**: targets as in the family; dropout gains a drawn 0-0.01 nats at a drawn best level;
  epochs cost a drawn 0.01-0.03 nats times the squared number of doublings away from a drawn best (1, 2 or 3).

Published instances ``llm_trainer_1`` to ``llm_trainer_4`` (seeds 1-4); held-out ones ``llm_trainer_1000`` to
``llm_trainer_1019``, not looked at while an algorithm is chosen (both lists in :mod:`benchmarks.problems`).
``optimum`` is not known in closed form here: the family minima are the best of a seeded random sample refined along
the learning rate (:meth:`family_minima`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import optuna

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params
from benchmarks.problems.llm_family import LandscapeSpec
from benchmarks.problems.llm_family import loss as family_loss
from benchmarks.problems.llm_family import noise_sd as family_noise_sd
from benchmarks.problems.llm_family import WD_RANGE


LORA_ALPHA = (8, 16, 32, 64)
LORA_DROPOUT = (0.0, 0.05, 0.1)
BATCH = (8, 16, 32, 64)
EPOCHS = (1, 2, 3)
LR_RANGE = (1e-6, 1e-1)
WARMUP_RANGE = (0.0, 0.2)
CATEGORICAL = (
    "optim",
    "lr_scheduler_type",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "per_device_train_batch_size",
    "num_train_epochs",
    "lora_target_modules",
)
SAMPLE = 10_000
"""Random configurations per family in the estimate of its minimum (then refined along the learning rate)."""


class TrainerSpaceProblem:
    """One drawn landscape with a Trainer-style categorical space (see the module docstring)."""

    strategic_params: tuple[str, ...] = ()  # every strategic head is a categorical list
    reference_problem = None

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.spec = LandscapeSpec.draw(seed)
        self.name = f"llm_trainer_{seed}"
        rng = np.random.default_rng([seed, 2026])  # the draws this family adds, apart from the landscape's own
        self.dropout_best = float(rng.choice(LORA_DROPOUT))
        self.dropout_gain = float(rng.uniform(0.0, 0.01))
        self.epochs_best = int(rng.choice(EPOCHS))
        self.epochs_cost = float(rng.uniform(0.01, 0.03))
        self.choices: dict[str, tuple] = {
            "optim": self.spec.family_names,
            "lr_scheduler_type": self.spec.schedules,
            "lora_r": self.spec.rank_levels,
            "lora_alpha": LORA_ALPHA,
            "lora_dropout": LORA_DROPOUT,
            "per_device_train_batch_size": BATCH,
            "num_train_epochs": EPOCHS,
            "lora_target_modules": self.spec.targets,
        }

    def suggest(self, trial: optuna.Trial) -> Params:
        p: Params = {name: trial.suggest_categorical(name, self.choices[name]) for name in CATEGORICAL}
        p["learning_rate"] = trial.suggest_float("learning_rate", *LR_RANGE, log=True)
        p["weight_decay"] = trial.suggest_float("weight_decay", WD_RANGE[0], 0.1, log=True)
        p["warmup_ratio"] = trial.suggest_float("warmup_ratio", *WARMUP_RANGE)
        return p

    def _family_params(self, p: Params) -> Params:
        """The same configuration in the family's terms, with the effective rate ``lr * alpha / (2 r)``."""
        q: Params = {
            "optimizer": p["optim"],
            "scheduler": p["lr_scheduler_type"],
            "lora_rank": p["lora_r"],
            "lora_targets": p["lora_target_modules"],
            "batch_size": p["per_device_train_batch_size"],
            "learning_rate": p["learning_rate"] * p["lora_alpha"] / (2 * p["lora_r"]),
            "weight_decay": p["weight_decay"],
            "warmup_ratio": p["warmup_ratio"],
            "grad_clip": 1.0,
            "momentum": 0.9,
            "nesterov": False,
            "regularization": "none",
        }
        return q

    def true_value(self, p: Params) -> float:
        value = family_loss(self._family_params(p), self.spec)
        if p["lora_dropout"] == self.dropout_best:
            value -= self.dropout_gain
        value += self.epochs_cost * math.log2(p["num_train_epochs"] / self.epochs_best) ** 2
        return value

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        true_value = self.true_value(params)
        sd = family_noise_sd(self._family_params(params), self.spec)
        return Evaluation(true_value + sd * float(np.random.default_rng(noise_seed).normal()), true_value)

    def optimum(self) -> float:
        return min(self.family_minima().values())

    @staticmethod
    def family(params: Params) -> str:
        return str(params["optim"])

    @functools.cache  # noqa: B019 (one problem object per process)
    def family_minima(self) -> dict[str, float]:
        """Per optimizer: the best of :data:`SAMPLE` seeded random configurations, each of the best 20 then refined
        on a fine grid of the learning rate (the number the heads move most): an estimate, from above."""
        rng = np.random.default_rng([self.seed, 7])
        out: dict[str, float] = {}
        grid = np.geomspace(*LR_RANGE, 601)
        for family in self.spec.family_names:
            sample = []
            for _ in range(SAMPLE):
                p: Params = {name: self.choices[name][rng.integers(len(self.choices[name]))] for name in CATEGORICAL}
                p["optim"] = family
                p["learning_rate"] = float(np.exp(rng.uniform(*np.log(LR_RANGE))))
                p["weight_decay"] = float(np.exp(rng.uniform(np.log(WD_RANGE[0]), np.log(0.1))))
                p["warmup_ratio"] = float(rng.uniform(0.04, 0.08))  # near the warmup the landscape rewards
                sample.append((self.true_value(p), p))
            sample.sort(key=lambda t: t[0])
            best = sample[0][0]
            for _, p in sample[:20]:
                for lr in grid:
                    best = min(best, self.true_value({**p, "learning_rate": float(lr)}))
            out[family] = best
        return out
