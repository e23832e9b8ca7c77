"""LoRA fine-tuning landscapes under a GPU-memory budget: the constrained variant of :mod:`llm_family`.

Each instance is an :class:`~benchmarks.problems.llm_family.LLMLandscapeProblem` (same seed, same loss, same search
space) plus the memory a configuration needs to train, and a budget it must fit in. A configuration that does not fit
runs out of memory at its first step: it has no loss, and the objective reports the landscape's worst value
(:data:`OUT_OF_MEMORY_LOSS`, a diverged run's ``ln 32000``), as an objective that catches torch's
``OutOfMemoryError`` would (the command line's tasks do: ``cascaderl_optuna.cli.tasks``). Its constraint value
(:meth:`MemoryConstrainedLandscape.constraints`, GiB above the budget, stored with ``trial.set_constraint``) tells a
constrained sampler how far off it was.

The memory model (``memory_gib``): peak GPU memory of a LoRA training step of a 7B decoder (LLaMA-2-7B's shape: 32
layers, hidden size 4096, MLP size 11008, 32 heads, a 32k vocabulary; Touvron et al. 2023), in GiB:

* **frozen base weights** in bf16, 2 bytes per parameter (6.74e9 parameters: 12.6 GiB); they do not depend on the
  configuration (Dettmers et al. 2023, "QLoRA", section 2 on where fine-tuning memory goes);
* **the adapters**: a rank-``r`` LoRA adapter on a ``d_in x d_out`` matrix has ``r (d_in + d_out)`` trainable
  parameters (Hu et al. 2022); the target-module sets adapt 2 (q, v), 4 (q, k, v, o), 3 (gate, up, down) or all 7
  matrices of each layer. Each trainable parameter costs an fp32 weight and gradient (8 bytes) plus its optimizer
  state: 8 bytes for AdamW and LAMB (two moments; Rajbhandari et al. 2020, "ZeRO", count 16 bytes a parameter in
  mixed-precision Adam), 4 for Lion (momentum only; Chen et al. 2023) and for SGD with momentum (one buffer), about
  0 for Adafactor (factored second moment, no first moment: Shazeer & Stern 2018);
* **activations**, per example, with gradient checkpointing at layer boundaries (what LoRA recipes use): the
  checkpointed layer inputs (``2 s h`` bytes per layer), one layer recomputed in full (``s h (34 + 5 a s / h)`` bytes;
  Korthikanti et al. 2022, "Reducing activation recomputation in large transformer models"), the fp32 logits and
  their gradient (``8 s V`` bytes) and, per adapted matrix, the rank-``r`` intermediate ``x A`` (``2 s r`` bytes a
  layer), at the instance's sequence length ``s`` (512 or 1024, drawn). The batch size is the per-step batch that
  must fit (no gradient accumulation: an assumption of this benchmark).

The budget of an instance is drawn so that the unconstrained optimum does not fit: the frozen weights plus a drawn
35-60% of what the unconstrained optimum needs beyond them. Fitting takes a smaller batch (which moves the best
learning rate: by the square root for the adaptive families), a smaller rank or fewer target modules, and a
family's optimizer state matters at high rank; the cheapest configuration (batch 8, the smallest rank, q and v) fits
in every instance.

The constrained minimum (:meth:`MemoryConstrainedLandscape.optimum`) is found numerically: for every family (and
Nesterov choice), schedule class, target-module set and rank level, the largest batch that fits bounds the batch,
and L-BFGS-B minimises the other tactical values from an informed and one random start; the best of the pure-offset
heads is added as in :mod:`llm_family`. Cached per seed (a few seconds).

The published instances (:data:`PUBLISHED_SEEDS`, the ``constrained`` suite; :func:`describe`):

| instance | seq len | budget GiB | unconstrained optimum needs GiB | unconstrained min | constrained min | constrained best (family, batch, rank, targets) |
|---|---|---|---|---|---|---|
| llm_memory_2 | 1024 | 33.6 | 63.2 | 1.9197 | 1.9299 | adamw, 26, 16, attn_all |
| llm_memory_4 | 512 | 18.6 | 24.5 | 2.1741 | 2.1813 | adamw, 15, 16, all_linear |
"""  # noqa: E501

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params
from benchmarks.problems.llm import minimise_box
from benchmarks.problems.llm_family import _best_offset_heads
from benchmarks.problems.llm_family import _encode
from benchmarks.problems.llm_family import _solve
from benchmarks.problems.llm_family import BATCH_RANGE
from benchmarks.problems.llm_family import CLIP_RANGE
from benchmarks.problems.llm_family import DIVERGED_LOSS
from benchmarks.problems.llm_family import LandscapeSpec
from benchmarks.problems.llm_family import LLMLandscapeProblem
from benchmarks.problems.llm_family import log10_best_lr
from benchmarks.problems.llm_family import loss
from benchmarks.problems.llm_family import LR_RANGE
from benchmarks.problems.llm_family import MOMENTUM_RANGE
from benchmarks.problems.llm_family import WARMUP_RANGE
from benchmarks.problems.llm_family import WD_RANGE


PUBLISHED_SEEDS = (2, 4)  # a trap instance and one without (llm_family's table); both fit mid-range batches
OUT_OF_MEMORY_LOSS = DIVERGED_LOSS
GIB = 2.0**30

BASE_PARAMETERS = 6.74e9
LAYERS, HIDDEN, MLP_HIDDEN, HEADS, VOCAB = 32, 4096, 11008, 32, 32000
ATTENTION_MATRIX = HIDDEN + HIDDEN  # d_in + d_out of q, k, v, o
MLP_MATRIX = HIDDEN + MLP_HIDDEN  # of gate, up, down
# (adapted matrices per layer, sum of their d_in + d_out) of each target-module set
TARGET_MATRICES = {
    "attn_qv": (2, 2 * ATTENTION_MATRIX),
    "attn_all": (4, 4 * ATTENTION_MATRIX),
    "mlp": (3, 3 * MLP_MATRIX),
    "all_linear": (7, 4 * ATTENTION_MATRIX + 3 * MLP_MATRIX),
}
STATE_BYTES = {"adamw": 8.0, "lamb": 8.0, "lion": 4.0, "sgd": 4.0, "adafactor": 0.0}
WEIGHT_AND_GRADIENT_BYTES = 8.0
BUDGET_SHARE = (0.35, 0.6)


def base_gib() -> float:
    return BASE_PARAMETERS * 2.0 / GIB


def adapter_gib(family: str, rank: float, targets: str) -> float:
    """The adapters' weights, gradients and optimizer state."""
    params = LAYERS * rank * TARGET_MATRICES[targets][1]
    return params * (WEIGHT_AND_GRADIENT_BYTES + STATE_BYTES[family]) / GIB


def per_example_gib(seq_len: int, rank: float, targets: str) -> float:
    """Activations of one example (gradient checkpointing at layer boundaries)."""
    s, h = seq_len, HIDDEN
    checkpoints = 2.0 * s * h * LAYERS
    recomputed = s * h * (34.0 + 5.0 * HEADS * s / h)
    logits = 8.0 * s * VOCAB
    lora = 2.0 * s * rank * TARGET_MATRICES[targets][0] * LAYERS
    return (checkpoints + recomputed + logits + lora) / GIB


def memory_gib(p: Params, seq_len: int) -> float:
    """Peak memory of a training step of configuration ``p`` (module docstring)."""
    rank, targets = p["lora_rank"], p["lora_targets"]
    return (
        base_gib()
        + adapter_gib(p["optimizer"], rank, targets)
        + p["batch_size"] * per_example_gib(seq_len, rank, targets)
    )


def max_batch(family: str, rank: float, targets: str, seq_len: int, budget: float) -> float:
    """The largest (real-valued) batch size that fits the budget with this family, rank and targets."""
    room = budget - base_gib() - adapter_gib(family, rank, targets)
    return room / per_example_gib(seq_len, rank, targets)


class MemoryConstrainedLandscape(LLMLandscapeProblem):
    """An ``llm_family`` landscape whose configurations must fit a GPU-memory budget (module docstring)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.name = f"llm_memory_{seed}"
        rng = np.random.default_rng([seed, 0x3E3])
        self.seq_len = int(rng.choice([512, 1024]))
        unconstrained = memory_gib(super().optimum_params(), self.seq_len)
        self.budget_gib = base_gib() + float(rng.uniform(*BUDGET_SHARE)) * (unconstrained - base_gib())
        cheapest = memory_gib(
            {
                "optimizer": "adafactor",
                "lora_rank": self.spec.rank_levels[0],
                "lora_targets": "attn_qv",
                "batch_size": 8,
            },
            self.seq_len,
        )
        self.budget_gib = max(self.budget_gib, cheapest + 0.5)

    def memory(self, params: Params) -> float:
        return memory_gib(params, self.seq_len)

    def constraints(self, params: Params) -> dict[str, float]:
        """Constraint name -> value, feasible when every value is <= 0: GiB above the budget. The runner stores them
        with ``trial.set_constraint`` (Optuna 5's way; its samplers and the cascade all read ``trial.constraints``)."""
        return {"memory_over_budget_gib": self.memory(params) - self.budget_gib}

    def evaluate(self, params: Params, noise_seed: int) -> Evaluation:
        if self.constraints(params)["memory_over_budget_gib"] > 0.0:
            return Evaluation(OUT_OF_MEMORY_LOSS, OUT_OF_MEMORY_LOSS)
        return super().evaluate(params, noise_seed)

    def optimum(self) -> float:
        return min(self.family_minima().values())

    def unconstrained_optimum(self) -> float:
        """The minimum of the same landscape without the budget (it does not fit)."""
        return min(value for value, _ in _solve(self.seed).values())

    def family_minima(self) -> dict[str, float]:
        return {name: value for name, (value, _) in _solve_constrained(self.seed).items()}

    def family_best_params(self, name: str) -> Params:
        return dict(_solve_constrained(self.seed)[name][1])


@functools.cache
def _solve_constrained(seed: int) -> dict[str, tuple[float, Params]]:
    """Per family: (best feasible noise-free loss, a configuration reaching it)."""
    problem = MemoryConstrainedLandscape.__new__(MemoryConstrainedLandscape)
    MemoryConstrainedLandscape.__init__(problem, seed)
    spec, seq_len, budget = problem.spec, problem.seq_len, problem.budget_gib
    out: dict[str, tuple[float, Params]] = {}
    rng = np.random.default_rng(0)
    with threadpool_limits(1):
        for fam in spec.family_names:
            for nesterov in (False, True) if fam == "sgd" else (None,):
                for constant in sorted({s == "constant" for s in spec.schedules}):
                    heads = _best_offset_heads(spec, constant)
                    for targets, rank in itertools.product(spec.targets, spec.rank_levels):
                        top = min(math.floor(max_batch(fam, rank, targets, seq_len, budget)), BATCH_RANGE[1])
                        if top < BATCH_RANGE[0]:
                            continue
                        base: Params = {**heads, "optimizer": fam, "lora_targets": targets, "lora_rank": rank}
                        if nesterov is not None:
                            base["nesterov"] = nesterov
                        value, params = _fitting_minimum(base, spec, top, rng)
                        if value < out.get(fam, (math.inf,))[0]:
                            out[fam] = (value, params)
    return out


def _fitting_minimum(base: Params, spec: LandscapeSpec, top: int, rng: np.random.Generator) -> tuple[float, Params]:
    """Best (loss, params) with the strategy of ``base`` and a batch of at most ``top`` (it fits up to there)."""
    box = [
        ("learning_rate", LR_RANGE, True),
        ("weight_decay", WD_RANGE, True),
        ("grad_clip", CLIP_RANGE, True),
        (
            "batch_size",
            (BATCH_RANGE[0], top) if top > BATCH_RANGE[0] else (BATCH_RANGE[0], BATCH_RANGE[0] + 1e-9),
            True,
        ),
        ("warmup_ratio", WARMUP_RANGE, False),
    ]
    if base["optimizer"] == "sgd":
        box.append(("momentum", MOMENTUM_RANGE, False))
    guess = dict(base, batch_size=min(spec.batch_best, top), momentum=0.9, warmup_ratio=0.03, grad_clip=1.0)
    guess["learning_rate"] = 10 ** log10_best_lr(guess, spec)
    guess["weight_decay"] = min(max(0.015 * guess["batch_size"] / (guess["learning_rate"] * 150_000), 1e-6), 0.3)
    z_guess = np.array([_encode(guess[n], lo, hi, log) for n, (lo, hi), log in box])
    starts = [z_guess, np.clip(z_guess + rng.normal(0.0, 0.1, len(box)), 0.0, 1.0)]
    _, relaxed = minimise_box(lambda p: loss(p, spec), base, box, {}, starts)
    best: tuple[float, Params] = (math.inf, {})
    free = [b for b in box if b[0] != "batch_size"]
    for batch in sorted(
        {max(math.floor(relaxed["batch_size"]), BATCH_RANGE[0]), min(math.ceil(relaxed["batch_size"]), top)}
    ):
        z0 = [np.array([_encode(relaxed[n], lo, hi, log) for n, (lo, hi), log in free])]
        best = min(
            best, minimise_box(lambda p: loss(p, spec), base, free, {"batch_size": batch}, z0), key=lambda t: t[0]
        )
    return best


def describe(seeds: tuple[int, ...] = PUBLISHED_SEEDS) -> str:
    """A markdown table: budget, what the unconstrained optimum needs, the two optima."""
    lines = [
        "| instance | seq len | budget GiB | unconstrained optimum needs GiB | unconstrained min | constrained min "
        "| constrained best (family, batch, rank, targets) |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed in seeds:
        p = MemoryConstrainedLandscape(seed)
        fam = min(p.family_minima(), key=p.family_minima().get)
        best = p.family_best_params(fam)
        need = memory_gib(LLMLandscapeProblem(seed).optimum_params(), p.seq_len)
        lines.append(
            f"| {p.name} | {p.seq_len} | {p.budget_gib:.1f} | {need:.1f} | {p.unconstrained_optimum():.4f} "
            f"| {p.optimum():.4f} | {fam}, {best['batch_size']}, {best['lora_rank']}, {best['lora_targets']} |"
        )
    return "\n".join(lines)
