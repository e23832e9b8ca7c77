"""An LLM fine-tuning landscape built from published facts.

The objective is the final validation loss (nats per token) of fine-tuning a pretrained language model, as a
closed-form function of the configuration, plus run-to-run noise. It is a model of the landscape, not a measurement,
and is written so that every shape in it rests on a published observation:

* **U-shaped loss in log learning rate, with a divergence cliff about a decade above the optimum.** Loss against
  learning rate is a basin in log lr; above the optimum loss first rises gently, then training diverges abruptly
  (Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training instabilities"; Gilmer et al. 2022,
  "A loss curvature perspective on training instabilities of deep learning models"). A diverged run ends near the
  loss of a uniform prediction over the vocabulary, ``ln(32000)``.
* **The optimum depends on the optimizer family.** Full fine-tuning with AdamW works at 1e-5 to 5e-5 (Devlin et al.
  2019, BERT; Touvron et al. 2023, Llama 2: 2e-5); Adafactor fine-tunes T5 at a constant 1e-3 (Raffel et al. 2020);
  SGD needs rates around 1e-2 and above, orders of magnitude more than AdamW (Kumar et al. 2022/2024, "How to
  fine-tune vision models with SGD"). AdamW fine-tunes best, SGD worst on transformers (Zhang et al. 2024, "Why
  transformers need Adam: a Hessian perspective").
* **LoRA's best learning rate is about 10x that of full fine-tuning and nearly independent of rank** (Schulman et al.
  2025, "LoRA Without Regret", Thinking Machines Lab; Hu et al. 2022 used 2e-4 to 5e-4 for LoRA where full fine-tuning
  used 1e-5 to 5e-5). Rank matters little for the final loss on small data sets, and LoRA on all linear layers is
  needed to match full fine-tuning (Dettmers et al. 2023, QLoRA; Biderman et al. 2024, "LoRA learns less and forgets
  less").
* **Weight decay couples with the learning rate through the timescale 1/(lr*wd).** The AdamW update is an
  exponential moving average of the updates with timescale ``tau = 1/(lr*wd)`` iterations; what should be held fixed
  is tau as a fraction of the ``T`` training iterations (Wang & Aitchison 2024, "How to set AdamW's weight decay as you
  scale model and dataset size"; Loshchilov & Hutter 2019). The best ``wd`` therefore moves with ``lr`` and with the
  batch size (through ``T``).
* **Warmup widens the stable region**: with warmup the divergence cliff moves to higher rates and the loss becomes
  less sensitive to the rate (Wortsman et al. 2023; Kalra & Barkeshli 2024, "Why warmup the learning rate?";
  Liu et al. 2020, RAdam). Gradient clipping also protects against the largest steps (Pascanu et al. 2013;
  Zhang et al. 2020, "Why gradient clipping accelerates training"), at a small cost when it clips too hard.
* **Batch size shifts the best rate**: linearly for SGD (Goyal et al. 2017), by the square root for adaptive methods
  (Malladi et al. 2022, "On the SDEs and scaling rules for adaptive gradient algorithms"). SGD's momentum ``m``
  multiplies the effective step by ``1/(1-m)`` (Smith & Le 2018).
* **Schedules**: a constant rate without cooldown ends worse than a decaying one (Hägele et al. 2024, "Scaling laws
  and compute-optimal training beyond fixed training durations").
* **Run-to-run noise**: fine-tuning outcomes vary from seed to seed (Dodge et al. 2020; Mosbach et al. 2021), more so
  close to the stability edge.

Variants
--------
``strong``: the effects above at their published size; the best learning rate moves by about three decades between
optimizer families, so a model of the rate that ignores the family sees a multi-modal, cliff-edged landscape.
``smooth``: a control with the same parameters where the family offsets are shrunk to a third, the basin is
shallower and the cliff is soft and two decades away: the optimizer x learning-rate interaction is weak.

Search space (the same for every sampler, written the way users write it): one shared
``suggest_float("learning_rate", 1e-6, 1.0, log=True)`` for all optimizer families; conditional parameters only
where they exist: ``momentum`` under SGD, ``warmup_ratio`` under the two warmup schedules, ``lora_rank`` and
``lora_targets`` under LoRA, ``dropout`` under dropout regularisation. The *hand-conditioned* twin replaces the shared
rate by one ``learning_rate_<family>`` per family over a range an expert would choose (four decades around the
family's customary rate); it is the reference an expert could write, not a fair competitor.

The minimum of the noise-free loss is found numerically (:func:`optimum_value`): a local optimiser from several
starts on every strategic combination, with the integers relaxed and then rounded.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
import functools
import itertools
import math

import numpy as np
import optuna
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params


OPTIMIZERS = ("adamw", "adafactor", "sgd")
SCHEDULERS = ("cosine", "warmup_cosine", "constant_warmup")
ADAPTERS = ("full", "lora")
LORA_TARGETS = ("attn_qv", "attn_all", "all_linear")
REGULARIZATION = ("none", "dropout")

LR_RANGE = (1e-6, 1.0)
WD_RANGE = (1e-6, 0.3)
CLIP_RANGE = (0.05, 10.0)
BATCH_RANGE = (8, 256)
RANK_RANGE = (4, 128)
WARMUP_RANGE = (0.0, 0.2)
MOMENTUM_RANGE = (0.0, 0.99)
DROPOUT_RANGE = (0.0, 0.5)

DIVERGED_LOSS = math.log(32000)  # uniform prediction over a 32k vocabulary
BASE_LOSS = 1.60
REFERENCE_BATCH = 32
TRAIN_EXAMPLES_X_EPOCHS = 150_000  # 50k examples, 3 epochs: T = 150_000 / batch_size iterations

# log10 of the best full fine-tuning rate at batch 32 (SGD: at momentum 0.9), see the module docstring.
FAMILY_LOG10_LR = {"adamw": -4.5, "adafactor": -3.0, "sgd": -1.6}
# Batch-size exponent of the best rate: linear for SGD, square root for adaptive methods.
BATCH_EXPONENT = {"adamw": 0.5, "adafactor": 0.5, "sgd": 1.0}
OPTIMIZER_LOSS = {"adamw": 0.0, "adafactor": 0.02, "sgd": 0.06}
SCHEDULER_LOSS = {"cosine": 0.01, "warmup_cosine": 0.0, "constant_warmup": 0.04}
LORA_TARGET_LOSS = {"attn_qv": 0.05, "attn_all": 0.025, "all_linear": 0.005}
LORA_LOG10_LR_SHIFT = 1.0  # LoRA's best rate is ~10x full fine-tuning
# Hand-conditioned ranges: four decades around each family's customary rate.
EXPERT_LR_RANGE = {"adamw": (1e-6, 1e-2), "adafactor": (1e-5, 1e-1), "sgd": (1e-4, 1.0)}


@dataclass(frozen=True)
class Variant:
    family_spread: float  # scales the distance of each family's optimum from AdamW's
    left_curvature: float  # nats per decade^2 below the optimum (too slow)
    right_curvature: float  # nats per decade^2 above it (too noisy), before the cliff
    cliff_decades: float  # distance of the divergence cliff above the optimum without warmup or clipping
    cliff_width: float  # decades over which the cliff rises (small: abrupt)
    noise_sd: float  # run-to-run noise far from the cliff


VARIANTS = {
    "strong": Variant(1.0, 0.12, 0.25, 1.0, 0.04, 0.01),
    "smooth": Variant(1.0 / 3.0, 0.05, 0.08, 2.0, 0.3, 0.01),
}


def _sigmoid(z: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * z))


def log10_best_lr(p: Params, variant: Variant) -> float:
    """log10 of the best learning rate for the strategy and the other tactical values in ``p``."""
    opt = p["optimizer"]
    x = FAMILY_LOG10_LR["adamw"] + variant.family_spread * (FAMILY_LOG10_LR[opt] - FAMILY_LOG10_LR["adamw"])
    if p["adapter"] == "lora":
        x += LORA_LOG10_LR_SHIFT
    x += BATCH_EXPONENT[opt] * math.log10(p["batch_size"] / REFERENCE_BATCH)
    if opt == "sgd":  # effective step lr / (1 - m), relative to m = 0.9
        x += math.log10((1.0 - p["momentum"]) / 0.1)
    if p["scheduler"] == "constant_warmup":  # no decay: a slightly lower peak rate is best
        x -= 0.15
    return x


def loss(p: Params, variant: Variant) -> float:
    """Noise-free final validation loss of configuration ``p``."""
    opt = p["optimizer"]
    lr = p["learning_rate"]
    x = math.log10(lr)
    d = x - log10_best_lr(p, variant)

    value = BASE_LOSS + OPTIMIZER_LOSS[opt] + SCHEDULER_LOSS[p["scheduler"]]
    value += (variant.left_curvature if d < 0 else variant.right_curvature) * d * d

    if p["adapter"] == "lora":
        value += LORA_TARGET_LOSS[p["lora_targets"]] + 0.04 * (RANK_RANGE[0] / p["lora_rank"]) ** 0.7
    if p["regularization"] == "dropout":
        value += -0.02 + 0.25 * (p["dropout"] - 0.1) ** 2

    # Weight decay: EMA timescale tau = 1/(lr*wd) iterations against T iterations; best at lr*wd*T = 0.015
    # (AdamW full fine-tuning at its best rate: wd ~ 0.1; LoRA: ~0.01).
    iterations = TRAIN_EXAMPLES_X_EPOCHS / p["batch_size"]
    u = math.log10(lr * p["weight_decay"] * iterations / 0.015)
    value += min(0.01 * u * u, 0.05)

    value += 0.006 * math.log2(p["batch_size"] / REFERENCE_BATCH) ** 2
    if opt == "sgd":
        value += 0.02 * math.log10((1.0 - p["momentum"]) / 0.1) ** 2
    warmup = p.get("warmup_ratio", 0.0)
    value += 0.02 * (warmup / WARMUP_RANGE[1]) ** 2  # time spent warming up is time not spent at the peak rate
    clip = p["grad_clip"]
    value += 0.03 * max(0.0, math.log10(0.5 / clip)) ** 2  # clipping too hard slows progress

    # The cliff: warmup (saturating at 6% of training) and clipping move it up.
    cliff = variant.cliff_decades + 0.5 * min(warmup / 0.06, 1.0) + 0.3 * _sigmoid(math.log10(1.0 / clip) / 0.3)
    diverged = _sigmoid((d - cliff) / variant.cliff_width)
    return value + (DIVERGED_LOSS - value) * diverged


def noise_sd(p: Params, variant: Variant) -> float:
    d = math.log10(p["learning_rate"]) - log10_best_lr(p, variant)
    return variant.noise_sd * (1.0 + 4.0 * _sigmoid((d - variant.cliff_decades + 0.3) / 0.1))


class LLMFineTuning:
    """The landscape as a benchmark problem (see the module docstring)."""

    strategic_params = ("lora_rank",)

    def __init__(self, variant: str, *, hand_conditioned: bool = False) -> None:
        self.variant_name = variant
        self.variant = VARIANTS[variant]
        self.hand_conditioned = hand_conditioned
        self.name = f"llm_{variant}" + ("_hand" if hand_conditioned else "")
        self.reference_problem = f"llm_{variant}" if hand_conditioned else None

    def suggest(self, trial: optuna.Trial) -> Params:
        p: Params = {}
        p["optimizer"] = opt = trial.suggest_categorical("optimizer", OPTIMIZERS)
        p["scheduler"] = trial.suggest_categorical("scheduler", SCHEDULERS)
        p["adapter"] = trial.suggest_categorical("adapter", ADAPTERS)
        p["regularization"] = trial.suggest_categorical("regularization", REGULARIZATION)
        if self.hand_conditioned:
            p["learning_rate"] = trial.suggest_float(f"learning_rate_{opt}", *EXPERT_LR_RANGE[opt], log=True)
        else:
            p["learning_rate"] = trial.suggest_float("learning_rate", *LR_RANGE, log=True)
        p["weight_decay"] = trial.suggest_float("weight_decay", *WD_RANGE, log=True)
        p["grad_clip"] = trial.suggest_float("grad_clip", *CLIP_RANGE, log=True)
        p["batch_size"] = trial.suggest_int("batch_size", *BATCH_RANGE, log=True)
        if p["scheduler"] != "cosine":
            p["warmup_ratio"] = trial.suggest_float("warmup_ratio", *WARMUP_RANGE)
        if opt == "sgd":
            p["momentum"] = trial.suggest_float("momentum", *MOMENTUM_RANGE)
        if p["adapter"] == "lora":
            p["lora_rank"] = trial.suggest_int("lora_rank", *RANK_RANGE, log=True)
            p["lora_targets"] = trial.suggest_categorical("lora_targets", LORA_TARGETS)
        if p["regularization"] == "dropout":
            p["dropout"] = trial.suggest_float("dropout", *DROPOUT_RANGE)
        return p

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        true_value = loss(params, self.variant)
        rng = np.random.default_rng(noise_seed)
        return Evaluation(true_value + noise_sd(params, self.variant) * float(rng.normal()), true_value)

    def optimum(self) -> float:
        return optimum_value(self.variant_name)

    def family(self, params: Params) -> str:
        """The optimizer: it decides where the best learning rate is (three decades apart on ``strong``)."""
        return params["optimizer"]

    def family_minima(self) -> dict[str, float]:
        """Best noise-free loss within each optimizer family (the hand-conditioned twin shares them, as it shares
        the optimum: every strategy's best rate lies inside its family's expert range)."""
        return family_minima(self.variant_name)


# ---------------------------------------------------------------------------------------------------------------
# The numerical optimum.


def strategies() -> list[Params]:
    """The 72 strategic combinations (optimizer, scheduler, regularisation, adapter, LoRA targets under LoRA)."""
    out = []
    for opt, sched, reg, adapter in itertools.product(OPTIMIZERS, SCHEDULERS, REGULARIZATION, ADAPTERS):
        for targets in LORA_TARGETS if adapter == "lora" else (None,):
            s: Params = {"optimizer": opt, "scheduler": sched, "regularization": reg, "adapter": adapter}
            if targets:
                s["lora_targets"] = targets
            out.append(s)
    return out


def _numeric_box(s: Params) -> list[tuple[str, tuple[float, float], bool]]:
    """(name, bounds, log scale) of the numeric parameters active under strategy ``s``."""
    box = [
        ("learning_rate", LR_RANGE, True),
        ("weight_decay", WD_RANGE, True),
        ("grad_clip", CLIP_RANGE, True),
        ("batch_size", BATCH_RANGE, True),
    ]
    if s["scheduler"] != "cosine":
        box.append(("warmup_ratio", WARMUP_RANGE, False))
    if s["optimizer"] == "sgd":
        box.append(("momentum", MOMENTUM_RANGE, False))
    if s["adapter"] == "lora":
        box.append(("lora_rank", RANK_RANGE, True))
    if s["regularization"] == "dropout":
        box.append(("dropout", DROPOUT_RANGE, False))
    return box


def decode_box(z: np.ndarray, s: Params, box: list, fixed: dict[str, int]) -> Params:
    """The configuration at point ``z`` of the unit cube of ``box`` (``(name, (low, high), log)`` rows), over ``s``."""
    p = dict(s)
    for zi, (name, (lo, hi), log) in zip(z, box):
        zi = min(max(float(zi), 0.0), 1.0)
        p[name] = math.exp(math.log(lo) + zi * math.log(hi / lo)) if log else lo + zi * (hi - lo)
    p.update(fixed)
    return p


def _minimise(
    s: Params, variant: Variant, box: list, fixed: dict[str, int], starts: np.ndarray
) -> tuple[float, Params]:
    """Best (loss, params) of L-BFGS-B runs from each row of ``starts`` over the unit cube of ``box``."""
    return minimise_box(lambda p: loss(p, variant), s, box, fixed, starts[:, : len(box)])


def minimise_box(
    objective: Callable[[Params], float], s: Params, box: list, fixed: dict[str, int], starts: Iterable[np.ndarray]
) -> tuple[float, Params]:
    """Best (value, params) of ``objective`` from L-BFGS-B runs from each start, over the unit cube of ``box``."""
    best: tuple[float, Params] = (math.inf, {})
    for z0 in starts:
        res = minimize(
            lambda z: objective(decode_box(z, s, box, fixed)), z0, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(box)
        )
        if res.fun < best[0]:
            best = (float(res.fun), decode_box(res.x, s, box, fixed))
    return best


def _encode(v: float, lo: float, hi: float, log: bool) -> float:
    return math.log(v / lo) / math.log(hi / lo) if log else (v - lo) / (hi - lo)


def strategy_key(params: Params) -> tuple:
    """The strategy of a configuration (what the cascade's high level chooses): optimizer, scheduler,
    regularisation, adapter, and the LoRA targets under LoRA."""
    key = (params["optimizer"], params["scheduler"], params["regularization"], params["adapter"])
    return key + ((params["lora_targets"],) if params["adapter"] == "lora" else ())


@functools.cache
def strategy_minima(variant_name: str, n_starts: int = 4) -> dict[tuple, float]:
    """Best noise-free loss of each of the 72 strategies (by :func:`strategy_key`), by :func:`strategy_minimum`
    from ``n_starts`` random starts (the first rows of one seeded draw: more starts only add starts)."""
    variant = VARIANTS[variant_name]
    starts = np.random.default_rng(0).random((n_starts, 8))
    with threadpool_limits(1):  # thousands of tiny L-BFGS-B runs: BLAS threads only contend (5x slower on 2 cores)
        return {strategy_key(s): strategy_minimum(s, variant, starts) for s in strategies()}


@functools.cache
def optimum_value(variant_name: str) -> float:
    """Minimum of the noise-free loss over the whole search space, found numerically.

    For each of the 72 strategies: L-BFGS-B from 4 random starts in the unit cube of the active numeric
    parameters with the integers relaxed; then the integers are fixed at their floor and ceiling and the continuous
    parameters are re-optimised from the relaxed solution (:func:`strategy_minima`).
    """
    return min(strategy_minima(variant_name).values())


def family_minima(variant_name: str) -> dict[str, float]:
    """Best noise-free loss within each optimizer family: the least of its strategies' minima (the same minimisation
    as :func:`optimum_value`, so it costs nothing once the optimum is known; 16 starts instead of 4 move no
    family's minimum by more than 1e-10)."""
    out: dict[str, float] = {}
    for key, value in strategy_minima(variant_name).items():
        out[key[0]] = min(out.get(key[0], math.inf), value)
    return out


def strategy_minimum(s: Params, variant: Variant, starts: np.ndarray) -> float:
    """Best noise-free loss of strategy ``s`` found from ``starts`` (integers relaxed, then floor or ceiling)."""
    box = _numeric_box(s)
    _, relaxed = _minimise(s, variant, box, {}, starts)
    int_names = [n for n in ("batch_size", "lora_rank") if n in relaxed]
    best = math.inf
    for ints in itertools.product(*[(math.floor(relaxed[n]), math.ceil(relaxed[n])) for n in int_names]):
        fixed = dict(zip(int_names, ints))
        free = [b for b in box if b[0] not in fixed]
        z0 = np.array([[_encode(relaxed[n], lo, hi, log) for n, (lo, hi), log in free]])
        best = min(best, _minimise(s, variant, free, fixed, z0)[0])
    return best
