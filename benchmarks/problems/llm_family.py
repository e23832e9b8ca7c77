"""A generator of LoRA fine-tuning landscapes: one landscape per seed, a published set and a held-out set.

:mod:`benchmarks.problems.llm` writes two fixed landscapes (``llm_strong``, ``llm_smooth``) from published facts; its
module docstring cites them. This module draws *instances* of the same kind of landscape from a seed, so that a change
of a sampler can be chosen on some instances and judged on others it was not tuned on. Every instance is the final
validation loss (nats per token) of LoRA fine-tuning a pretrained language model as a closed-form function of the
configuration, plus run-to-run noise. It is a model, not a measurement. The facts it rests on, as cited in llm.py's
docstring unless a source is given here:

* **A basin in log learning rate with a divergence cliff above the optimum** (Wortsman et al. 2023; Gilmer et al.
  2022); a diverged run ends near ``ln(32000)``. Each family draws its own curvatures below and above the optimum,
  its cliff distance (0.5-1.3 decades) and how abrupt the cliff is.
* **The optimizer family moves the best rate** (AdamW, Adafactor, SGD as in llm.py; Lion's best rate is 3-10x smaller
  than AdamW's and its weight decay correspondingly larger, ``lr * wd`` being what matters: Chen et al. 2023,
  "Symbolic discovery of optimization algorithms"; LAMB's layer-wise trust ratio tolerates larger rates than Adam:
  You et al. 2020, "Large batch optimization for deep learning"). The families keep that order (Lion lowest, SGD
  highest); how far apart they sit is drawn, with the spread between the lowest and the highest family's best rate
  0.7-2 decades, as measured on LoRA fine-tuning runs outside this repository. SGD is never the best or the
  runner-up family (Zhang et al. 2024).
* **A conditional sub-choice under SGD** (``momentum`` and ``nesterov``): momentum multiplies the effective step by
  ``1/(1-m)`` (Smith & Le 2018); Nesterov's variant ends better and tolerates a slightly higher rate (Sutskever et al.
  2013, "On the importance of initialization and momentum in deep learning"). Nesterov's gain is drawn (0.01-0.04
  nats) and moves SGD's cliff 0.2 decades up.
* **Batch size shifts the best rate**: by the square root for the adaptive families (Malladi et al. 2022), linearly
  for SGD (Goyal et al. 2017). The best batch size itself is drawn (16, 32 or 64).
* **Weight decay couples with the rate through ``lr * wd * T``** (Wang & Aitchison 2024), as in llm.py.
* **Warmup widens the stable band** (Wortsman et al. 2023; Kalra & Barkeshli 2024): it moves the cliff up by a drawn
  0.3-0.6 decades (saturating at 6% of training) and flattens the slope above the optimum; gradient clipping moves it
  up a little too (Zhang et al. 2020), at a cost when it clips too hard.
* **Schedules mostly add an offset**: a constant rate without cooldown ends worse, a warmup-stable-decay schedule
  matches cosine (Hägele et al. 2024); the constant schedule's best peak rate is a drawn 0.05-0.2 decades lower (no
  decay: an assumption of llm.py, kept here).
* **LoRA rank and target modules mostly add an offset**: more target modules, all linear layers best (Dettmers et al.
  2023; Biderman et al. 2024; MLP-only beats attention-only: Schulman et al. 2025); rank matters little, with a drawn
  best rank among the upper levels; the best rate is nearly independent of rank (Schulman et al. 2025), here a drawn
  shift of at most 0.05 decades per doubling, either way.
* **Noise**: a drawn run-to-run sd of 0.005-0.015 nats, five times larger near the cliff (Dodge et al. 2020; Mosbach
  et al. 2021).

What each seed draws (:meth:`LandscapeSpec.draw`): 3-5 optimizer families (AdamW and SGD always, 1-3 of Lion,
Adafactor, LAMB), 2-5 schedules (cosine always), 3-5 LoRA ranks doubling from 4 or 8, 2-4 target-module sets, and an
optional regularisation head (LoRA dropout), 100-300 strategy combinations in all; the gap between the best and the
runner-up family once both are tuned (0.01-0.05 nats) and the spread of the families' best rates (0.7-2 decades), both
from a Weyl sequence over the seed so that any few consecutive seeds span their ranges; and in 40% of the seeds (the
same sequence) the **trap**: the runner-up family is the easiest to tune first (the widest basin, its best rate near
the middle of the shared range, 10^-3.5), and the best family has a narrow basin and sits at the far end of the
adaptive families (at least 0.55 decades from the runner-up), so that at the runner-up's best rate it looks at least
0.1 nats worse than the runner-up tuned. In the other seeds the best family is also the one with the widest basin.
Everything else comes from numpy's generator seeded with the seed.

The published instances (``llm_family_1`` to ``llm_family_6``, :data:`PUBLISHED_SEEDS`; :func:`describe`); the held-out
ones are seeds 1000-1029 (``HELDOUT_LLM_FAMILY`` in :mod:`benchmarks.problems`), not described here on purpose:

| seed | families (log10 best lr at batch 32; * best, + runner-up) | spread | gap | trap | strategies |
|---|---|---|---|---|---|
| 1 | adamw -3.72+, adafactor -3.40*, lamb -2.89, sgd -2.48 | 1.24 | 0.039 | no | 180 |
| 2 | adamw -4.48*, lamb -3.38+, sgd -2.70 | 1.78 | 0.029 | yes | 128 |
| 3 | adamw -4.09*, adafactor -3.88+, lamb -3.41, sgd -3.07 | 1.02 | 0.018 | no | 180 |
| 4 | lion -4.05, adamw -3.74*, adafactor -3.36+, lamb -2.87, sgd -2.50 | 1.55 | 0.047 | no | 270 |
| 5 | lion -3.85*, adamw -3.27+, sgd -3.06 | 0.79 | 0.036 | yes | 192 |
| 6 | adamw -4.21, adafactor -4.00*, lamb -3.30+, sgd -2.88 | 1.33 | 0.026 | no | 120 |

Search space (the same for every sampler): ``optimizer``; under SGD ``momentum`` and ``nesterov``; ``scheduler``;
``lora_rank`` (an int, log scale, strategic: the cascade picks it at the doublings); ``lora_targets``;
``regularization`` where the instance has that head, and ``lora_dropout`` under it; then the shared
``learning_rate`` over 1e-6..1 (log) for every family, ``weight_decay``, ``batch_size``, ``warmup_ratio`` and
``grad_clip``.

The minimum (:meth:`LLMLandscapeProblem.optimum`) is found numerically, exploiting that the target-module, schedule
and regularisation heads only add an offset (except the constant schedule, which also shifts the rate): L-BFGS-B from
one informed and three random starts, once per (family, Nesterov choice, constant schedule or not) over the unit cube
of the tactical values with the rank and the batch size relaxed, then those two integers fixed at their floor and
ceiling and the rest re-optimised; the best choice of each pure-offset head is added (the dropout rate by a bounded
1-D minimisation). At most 12 such groups, about a second per instance; cached per landscape.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import itertools
import math

import numpy as np
import optuna
from scipy.optimize import minimize_scalar
from threadpoolctl import threadpool_limits

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params
from benchmarks.problems.llm import minimise_box


PUBLISHED_SEEDS = (1, 2, 3, 4, 5, 6)

LR_RANGE = (1e-6, 1.0)
WD_RANGE = (1e-6, 0.3)
CLIP_RANGE = (0.05, 10.0)
BATCH_RANGE = (8, 256)
WARMUP_RANGE = (0.0, 0.2)
MOMENTUM_RANGE = (0.0, 0.99)
DROPOUT_RANGE = (0.0, 0.3)

DIVERGED_LOSS = math.log(32000)  # uniform prediction over a 32k vocabulary
REFERENCE_BATCH = 32  # the families' best rates are stated at this batch size (SGD: at momentum 0.9)
TRAIN_EXAMPLES_X_EPOCHS = 150_000  # T = 150_000 / batch_size iterations, as in llm.py
LR_MIDDLE = -3.5  # log10 of the middle of the shared learning-rate range
STRATEGY_BOUNDS = (100, 300)
TRAP_SHARE = 0.4
TRAP_MIN_DISTANCE = 0.55  # decades between the best and the runner-up family's best rate in a trap instance

# Families in the order of their customary rates (module docstring); SGD is never best or runner-up.
FAMILY_ORDER = ("lion", "adamw", "adafactor", "lamb", "sgd")
OPTIONAL_FAMILIES = ("lion", "adafactor", "lamb")
SCHEDULE_POOL = ("cosine", "linear", "wsd", "inverse_sqrt", "constant")
# Offset ranges (nats) of each schedule against cosine: no cooldown ends worse, WSD matches cosine.
SCHEDULE_OFFSET = {
    "cosine": (0.0, 0.0),
    "linear": (0.0, 0.01),
    "wsd": (-0.005, 0.005),
    "inverse_sqrt": (0.015, 0.03),
    "constant": (0.03, 0.06),
}
TARGET_POOL = ("attn_qv", "attn_all", "mlp", "all_linear")
TARGET_OFFSET = {"attn_qv": 0.05, "attn_all": 0.025, "mlp": 0.012, "all_linear": 0.005}  # x U(0.6, 1.4) per instance

# Weyl-sequence multipliers (irrational, mutually independent) of the headline draws.
_WEYL_GAP = math.sqrt(3.0) - 1.0
_WEYL_SPREAD = math.sqrt(2.0) - 1.0
_WEYL_TRAP = (math.sqrt(5.0) - 1.0) / 2.0


def _weyl(seed: int, alpha: float) -> float:
    return (seed * alpha) % 1.0


def _sigmoid(z: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * z))


@dataclass(frozen=True)
class Family:
    name: str
    log10_lr: float  # best rate at batch 32 (SGD: momentum 0.9), before the schedule and rank shifts
    offset: float  # nats above the best family once tuned (SGD: with Nesterov)
    left_curvature: float  # nats per decade^2 below the best rate
    right_curvature: float  # above it, before the cliff
    cliff: float  # decades from the best rate to the cliff without warmup or clipping
    cliff_width: float  # decades over which the cliff rises
    batch_exponent: float  # 0.5 adaptive (square root), 1.0 SGD (linear)

    @property
    def basin_width(self) -> float:
        """A width of the basin in log lr: how easy the family is to tune (1 / the mean curvature)."""
        return 2.0 / (self.left_curvature + self.right_curvature)


@dataclass(frozen=True)
class LandscapeSpec:
    seed: int
    base_loss: float
    families: tuple[Family, ...]
    best: str
    runner_up: str
    gap: float  # runner-up's tuned minimum minus the best family's
    spread: float  # decades between the lowest and the highest family's best rate
    trap: bool
    nesterov_gain: float  # nats Nesterov's momentum ends better than plain momentum
    schedules: tuple[str, ...]
    schedule_offsets: tuple[float, ...]
    constant_lr_shift: float  # decades the constant schedule lowers the best rate
    rank_levels: tuple[int, ...]
    rank_best: int
    rank_curvature: float  # nats per doubling^2 away from the best rank
    rank_lr_shift: float  # decades per doubling of the rank
    targets: tuple[str, ...]
    target_offsets: tuple[float, ...]
    regularization: bool
    dropout_best: float
    dropout_gain: float  # nats LoRA dropout at its best rate gains (negative: it helps)
    batch_best: int
    warmup_cliff: float  # decades the cliff moves up at full warmup (6% of training)
    warmup_flatten: float  # share of the slope above the optimum that full warmup removes
    noise_sd: float

    @property
    def family_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.families)

    def family(self, name: str) -> Family:
        return next(f for f in self.families if f.name == name)

    @property
    def easiest(self) -> str:
        """The family with the widest basin: the one a sampler tunes first."""
        return max(self.families, key=lambda f: f.basin_width).name

    @property
    def n_strategies(self) -> int:
        """Strategy combinations as the cascade sees them (SGD counts twice: with and without Nesterov)."""
        n_family_choices = len(self.families) + 1
        return (
            n_family_choices
            * len(self.schedules)
            * len(self.rank_levels)
            * len(self.targets)
            * (2 if self.regularization else 1)
        )

    @classmethod
    def draw(cls, seed: int) -> LandscapeSpec:
        """The landscape of ``seed`` (module docstring: what is drawn and how)."""
        rng = np.random.default_rng([seed, 0x11F])
        gap = 0.01 + 0.04 * _weyl(seed, _WEYL_GAP)
        spread = 0.7 + 1.3 * _weyl(seed, _WEYL_SPREAD)
        trap = _weyl(seed, _WEYL_TRAP) < TRAP_SHARE
        for _ in range(10_000):  # the heads: redrawn until the strategy count is within bounds
            n_fam = int(rng.integers(3, 6))
            chosen = set(rng.choice(OPTIONAL_FAMILIES, n_fam - 2, replace=False)) | {"adamw", "sgd"}
            names = tuple(f for f in FAMILY_ORDER if f in chosen)
            schedules = ("cosine", *sorted(rng.choice(SCHEDULE_POOL[1:], int(rng.integers(1, 5)), replace=False)))
            schedules = tuple(s for s in SCHEDULE_POOL if s in schedules)
            rank_lo = int(rng.choice([4, 8]))
            n_ranks = int(rng.integers(3, 6 if rank_lo == 4 else 5))
            n_targets = int(rng.integers(2, 5))
            picked = set(rng.choice(TARGET_POOL, n_targets, replace=False))
            targets = tuple(t for t in TARGET_POOL if t in picked)
            regularization = bool(rng.random() < 0.5)
            count = (n_fam + 1) * len(schedules) * n_ranks * n_targets * (2 if regularization else 1)
            if STRATEGY_BOUNDS[0] <= count <= STRATEGY_BOUNDS[1]:
                break
        rank_levels = tuple(rank_lo * 2**i for i in range(n_ranks))
        families = _draw_families(rng, names, spread, gap, trap)
        adaptive = [f for f in families if f.name != "sgd"]
        best = min(adaptive, key=lambda f: f.offset).name
        runner_up = sorted(adaptive, key=lambda f: f.offset)[1].name
        return cls(
            seed=seed,
            base_loss=float(rng.uniform(1.2, 2.2)),
            families=families,
            best=best,
            runner_up=runner_up,
            gap=gap,
            spread=spread,
            trap=trap,
            nesterov_gain=float(rng.uniform(0.01, 0.04)),
            schedules=schedules,
            schedule_offsets=tuple(float(rng.uniform(*SCHEDULE_OFFSET[s])) for s in schedules),
            constant_lr_shift=float(rng.uniform(0.05, 0.2)),
            rank_levels=rank_levels,
            rank_best=int(rng.choice(rank_levels[len(rank_levels) // 2 :])),
            rank_curvature=float(rng.uniform(0.002, 0.008)),
            rank_lr_shift=float(rng.uniform(-0.05, 0.05)),
            targets=targets,
            target_offsets=tuple(TARGET_OFFSET[t] * float(rng.uniform(0.6, 1.4)) for t in targets),
            regularization=regularization,
            dropout_best=float(rng.uniform(0.05, 0.15)),
            dropout_gain=float(rng.uniform(-0.015, 0.005)),
            batch_best=int(rng.choice([16, 32, 64])),
            warmup_cliff=float(rng.uniform(0.3, 0.6)),
            warmup_flatten=float(rng.uniform(0.2, 0.4)),
            noise_sd=float(rng.uniform(0.005, 0.015)),
        )


def _positions(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    """``n`` increasing positions from 0 to ``spread`` with at least 0.12 decades between neighbours."""
    gaps = 0.12 + (spread - 0.12 * (n - 1)) * rng.dirichlet(np.full(n - 1, 2.0))
    return np.concatenate([[0.0], np.cumsum(gaps)])


def _draw_families(
    rng: np.random.Generator, names: tuple[str, ...], spread: float, gap: float, trap: bool
) -> tuple[Family, ...]:
    n = len(names)
    adaptive = [i for i, name in enumerate(names) if name != "sgd"]
    for _ in range(10_000):  # redrawn until the positions and the basins have the drawn property
        pos = _positions(rng, n, spread)
        if trap:
            low_end = bool(rng.random() < 0.5)
            best, runner_up = (adaptive[0], adaptive[-1]) if low_end else (adaptive[-1], adaptive[0])
            if abs(pos[best] - pos[runner_up]) < TRAP_MIN_DISTANCE:
                continue
            pos = pos - pos[runner_up] + rng.uniform(LR_MIDDLE - 0.3, LR_MIDDLE + 0.3)
        else:
            best, runner_up = (int(i) for i in rng.choice(adaptive, 2, replace=False))
            pos = pos - np.mean(pos[adaptive]) + rng.uniform(-3.9, -3.1)
        if pos[0] < -4.9 or pos[-1] > -1.3:  # weight decay's coupling stays reachable; SGD's rate stays in range
            continue
        curv = []
        for i in range(n):
            if trap and i == best:  # narrow, cliff close
                curv.append((rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.6), rng.uniform(0.5, 0.75)))
            elif trap and i == runner_up:  # wide, cliff far
                curv.append((rng.uniform(0.03, 0.06), rng.uniform(0.05, 0.09), rng.uniform(1.0, 1.3)))
            elif not trap and i == best:
                curv.append((rng.uniform(0.04, 0.1), rng.uniform(0.06, 0.15), rng.uniform(0.8, 1.3)))
            else:
                curv.append((rng.uniform(0.08, 0.3), rng.uniform(0.12, 0.4), rng.uniform(0.6, 1.2)))
        widths = [2.0 / (left + right) for left, right, _ in curv]
        easiest = int(np.argmax(widths))
        if (easiest == runner_up) if trap else (easiest == best):
            break
    offsets = {best: 0.0, runner_up: gap}
    families = []
    for i, name in enumerate(names):
        if name == "sgd":
            offset = gap + rng.uniform(0.04, 0.15)
        else:
            offset = offsets.get(i, gap + rng.uniform(0.02, 0.12))
        left, right, cliff = curv[i]
        families.append(
            Family(
                name=name,
                log10_lr=float(pos[i]),
                offset=float(offset),
                left_curvature=float(left),
                right_curvature=float(right),
                cliff=float(cliff),
                cliff_width=float(rng.uniform(0.025, cliff / 12.0)),  # cliff/width >= 12: no leak at the optimum
                batch_exponent=1.0 if name == "sgd" else 0.5,
            )
        )
    return tuple(families)


# ---------------------------------------------------------------------------------------------------------------
# The landscape.


def log10_best_lr(p: Params, spec: LandscapeSpec) -> float:
    """log10 of the best learning rate for the strategy and the other tactical values in ``p``."""
    fam = spec.family(p["optimizer"])
    x = fam.log10_lr + fam.batch_exponent * math.log10(p["batch_size"] / REFERENCE_BATCH)
    if fam.name == "sgd":  # effective step lr / (1 - m), relative to m = 0.9
        x += math.log10((1.0 - p["momentum"]) / 0.1)
    if p["scheduler"] == "constant":
        x -= spec.constant_lr_shift
    x += spec.rank_lr_shift * math.log2(p["lora_rank"] / spec.rank_levels[0])
    return x


def cliff_distance(p: Params, spec: LandscapeSpec) -> float:
    """Decades from the best rate to the divergence cliff: the family's, moved up by warmup, clipping and Nesterov."""
    fam = spec.family(p["optimizer"])
    warm = min(p["warmup_ratio"] / 0.06, 1.0)
    cliff = fam.cliff + spec.warmup_cliff * warm + 0.3 * _sigmoid(math.log10(1.0 / p["grad_clip"]) / 0.3)
    if fam.name == "sgd" and p["nesterov"]:
        cliff += 0.2
    return cliff


def offset(p: Params, spec: LandscapeSpec) -> float:
    """The part of the loss that the pure-offset heads add (targets, schedule, regularisation)."""
    value = spec.target_offsets[spec.targets.index(p["lora_targets"])]
    value += spec.schedule_offsets[spec.schedules.index(p["scheduler"])]
    if spec.regularization and p["regularization"] == "lora_dropout":
        value += spec.dropout_gain + 0.25 * (p["lora_dropout"] - spec.dropout_best) ** 2
    return value


def loss(p: Params, spec: LandscapeSpec) -> float:
    """Noise-free final validation loss of configuration ``p``."""
    fam = spec.family(p["optimizer"])
    d = math.log10(p["learning_rate"]) - log10_best_lr(p, spec)
    warm = min(p["warmup_ratio"] / 0.06, 1.0)

    value = spec.base_loss + fam.offset + offset(p, spec)
    if fam.name == "sgd":
        value += 0.0 if p["nesterov"] else spec.nesterov_gain
        value += 0.02 * math.log10((1.0 - p["momentum"]) / 0.1) ** 2
    value += spec.rank_curvature * math.log2(p["lora_rank"] / spec.rank_best) ** 2
    curvature = fam.left_curvature if d < 0 else fam.right_curvature * (1.0 - spec.warmup_flatten * warm)
    value += curvature * d * d

    iterations = TRAIN_EXAMPLES_X_EPOCHS / p["batch_size"]
    u = math.log10(p["learning_rate"] * p["weight_decay"] * iterations / 0.015)
    value += min(0.01 * u * u, 0.05)
    value += 0.006 * math.log2(p["batch_size"] / spec.batch_best) ** 2
    value += 0.02 * (p["warmup_ratio"] / WARMUP_RANGE[1]) ** 2  # time spent warming up is not spent at the peak
    value += 0.03 * max(0.0, math.log10(0.5 / p["grad_clip"])) ** 2  # clipping too hard slows progress

    diverged = _sigmoid((d - cliff_distance(p, spec)) / fam.cliff_width)
    return value + (DIVERGED_LOSS - value) * diverged


def noise_sd(p: Params, spec: LandscapeSpec) -> float:
    d = math.log10(p["learning_rate"]) - log10_best_lr(p, spec)
    return spec.noise_sd * (1.0 + 4.0 * _sigmoid((d - cliff_distance(p, spec) + 0.3) / 0.1))


class LLMLandscapeProblem:
    """One drawn landscape as a benchmark problem (see the module docstring)."""

    strategic_params = ("lora_rank",)
    reference_problem = None

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.spec = LandscapeSpec.draw(seed)
        self.name = f"llm_family_{seed}"

    def suggest(self, trial: optuna.Trial) -> Params:
        s = self.spec
        p: Params = {}
        p["optimizer"] = trial.suggest_categorical("optimizer", s.family_names)
        if p["optimizer"] == "sgd":
            p["momentum"] = trial.suggest_float("momentum", *MOMENTUM_RANGE)
            p["nesterov"] = trial.suggest_categorical("nesterov", (False, True))
        p["scheduler"] = trial.suggest_categorical("scheduler", s.schedules)
        p["lora_rank"] = trial.suggest_int("lora_rank", s.rank_levels[0], s.rank_levels[-1], log=True)
        p["lora_targets"] = trial.suggest_categorical("lora_targets", s.targets)
        if s.regularization:
            p["regularization"] = trial.suggest_categorical("regularization", ("none", "lora_dropout"))
            if p["regularization"] == "lora_dropout":
                p["lora_dropout"] = trial.suggest_float("lora_dropout", *DROPOUT_RANGE)
        p["learning_rate"] = trial.suggest_float("learning_rate", *LR_RANGE, log=True)
        p["weight_decay"] = trial.suggest_float("weight_decay", *WD_RANGE, log=True)
        p["batch_size"] = trial.suggest_int("batch_size", *BATCH_RANGE, log=True)
        p["warmup_ratio"] = trial.suggest_float("warmup_ratio", *WARMUP_RANGE)
        p["grad_clip"] = trial.suggest_float("grad_clip", *CLIP_RANGE, log=True)
        return p

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        true_value = loss(params, self.spec)
        rng = np.random.default_rng(noise_seed)
        return Evaluation(true_value + noise_sd(params, self.spec) * float(rng.normal()), true_value)

    def optimum(self) -> float:
        return min(self.family_minima().values())

    def optimum_params(self) -> Params:
        """A configuration that reaches :meth:`optimum`."""
        return dict(min(solve(self.spec).values(), key=lambda t: t[0])[1])

    @staticmethod
    def family(params: Params) -> str:
        """The optimizer family of a configuration."""
        return str(params["optimizer"])

    def family_minima(self) -> dict[str, float]:
        """The best noise-free value within each optimizer family, found numerically."""
        return {name: value for name, (value, _) in solve(self.spec).items()}

    def family_best_params(self, name: str) -> Params:
        """A configuration that reaches ``family_minima()[name]``."""
        return dict(solve(self.spec)[name][1])


# ---------------------------------------------------------------------------------------------------------------
# The numerical optimum.


def _box(family: str) -> list[tuple[str, tuple[float, float], bool]]:
    """(name, bounds, log scale) of the tactical values optimised per group (the rank relaxed among them)."""
    box = [
        ("learning_rate", LR_RANGE, True),
        ("weight_decay", WD_RANGE, True),
        ("grad_clip", CLIP_RANGE, True),
        ("batch_size", BATCH_RANGE, True),
        ("warmup_ratio", WARMUP_RANGE, False),
        ("lora_rank", None, True),
    ]
    if family == "sgd":
        box.append(("momentum", MOMENTUM_RANGE, False))
    return box


def _encode(v: float, lo: float, hi: float, log: bool) -> float:
    return min(max(math.log(v / lo) / math.log(hi / lo) if log else (v - lo) / (hi - lo), 0.0), 1.0)


def _minimise(base: Params, spec: LandscapeSpec, box: list, fixed: dict, starts: list) -> tuple[float, Params]:
    return minimise_box(lambda p: loss(p, spec), base, box, fixed, starts)


def group_minimum(base: Params, spec: LandscapeSpec) -> tuple[float, Params]:
    """Best (loss, params) over the tactical values for the strategy heads fixed in ``base``.

    L-BFGS-B from an informed start (the family's best rate at the best batch size and rank, weight decay at its
    coupling, no warmup) and three random ones around it, with the rank and the batch size relaxed; then both fixed
    at their floor and ceiling and the other values re-optimised from the relaxed solution.
    """
    box = [
        (n, (spec.rank_levels[0], spec.rank_levels[-1]) if b is None else b, log)
        for n, b, log in _box(base["optimizer"])
    ]
    guess = dict(base, batch_size=spec.batch_best, lora_rank=spec.rank_best, momentum=0.9, warmup_ratio=0.0)
    guess["grad_clip"] = 1.0
    guess["learning_rate"] = 10 ** log10_best_lr(guess, spec)
    guess["weight_decay"] = min(max(0.015 * guess["batch_size"] / (guess["learning_rate"] * 150_000), 1e-6), 0.3)
    z_guess = np.array([_encode(guess[n], lo, hi, log) for n, (lo, hi), log in box])
    rng = np.random.default_rng(0)
    starts = [z_guess] + [np.clip(z_guess + rng.normal(0.0, 0.1, len(box)), 0.0, 1.0) for _ in range(3)]
    _, relaxed = _minimise(base, spec, box, {}, starts)
    best: tuple[float, Params] = (math.inf, {})
    ints = ("batch_size", "lora_rank")
    for values in itertools.product(*[(math.floor(relaxed[n]), math.ceil(relaxed[n])) for n in ints]):
        fixed = dict(zip(ints, values))
        free = [b for b in box if b[0] not in fixed]
        z0 = [np.array([_encode(relaxed[n], lo, hi, log) for n, (lo, hi), log in free])]
        best = min(best, _minimise(base, spec, free, fixed, z0), key=lambda t: t[0])
    return best


def _best_offset_heads(spec: LandscapeSpec, constant: bool) -> Params:
    """The best choice of each pure-offset head (the schedule within its rate class)."""
    p: Params = {"lora_targets": spec.targets[int(np.argmin(spec.target_offsets))]}
    schedules = [(o, s) for s, o in zip(spec.schedules, spec.schedule_offsets) if (s == "constant") == constant]
    p["scheduler"] = min(schedules)[1]
    if spec.regularization:
        res = minimize_scalar(
            lambda r: spec.dropout_gain + 0.25 * (r - spec.dropout_best) ** 2, bounds=DROPOUT_RANGE, method="bounded"
        )
        p["regularization"] = "lora_dropout" if res.fun < 0.0 else "none"
        if res.fun < 0.0:
            p["lora_dropout"] = float(res.x)
    return p


def _solve(seed: int) -> dict[str, tuple[float, Params]]:
    """:func:`solve` of the landscape drawn from ``seed``."""
    return solve(LandscapeSpec.draw(seed))


@functools.cache
def solve(spec: LandscapeSpec) -> dict[str, tuple[float, Params]]:
    """Per family: (best noise-free loss, a configuration reaching it), over every group of lr-interacting heads."""
    out: dict[str, tuple[float, Params]] = {}
    with threadpool_limits(1):  # many tiny L-BFGS-B runs: BLAS threads only contend
        for fam in spec.family_names:
            for nesterov in (False, True) if fam == "sgd" else (None,):
                for constant in sorted({s == "constant" for s in spec.schedules}):
                    base: Params = {"optimizer": fam, **_best_offset_heads(spec, constant)}
                    if nesterov is not None:
                        base["nesterov"] = nesterov
                    value, params = group_minimum(base, spec)
                    if value < out.get(fam, (math.inf,))[0]:
                        out[fam] = (value, params)
    return out


def describe(seeds: tuple[int, ...] = PUBLISHED_SEEDS) -> str:
    """A markdown table of the instances: families and their best rates, spread, gap, trap, strategy count."""
    lines = [
        "| seed | families (log10 best lr at batch 32; * best, + runner-up) | spread | gap | trap | strategies |",
        "|---|---|---|---|---|---|",
    ]
    for seed in seeds:
        s = LandscapeSpec.draw(seed)
        mark = {s.best: "*", s.runner_up: "+"}
        fams = ", ".join(f"{f.name} {f.log10_lr:.2f}{mark.get(f.name, '')}" for f in s.families)
        lines.append(
            f"| {seed} | {fams} | {s.spread:.2f} | {s.gap:.3f} | {'yes' if s.trap else 'no'} | {s.n_strategies} |"
        )
    return "\n".join(lines)
