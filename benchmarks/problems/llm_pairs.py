"""Pairs of related LoRA fine-tuning landscapes, for the warm-start benchmark (``benchmarks/warm_start.py``).

A user re-tunes when the model, the data or the sequence length changes; the earlier study was run on a landscape
like the new one, not on the same one. Each pair here is an ``llm_family`` instance (the *earlier* landscape) and a
second landscape made from it (the *later* one), with the same families, heads and search space:

* **related**: every family's best learning rate moves by a drawn 0.1-0.3 decades, up or down (a new model or
  sequence length moves the best rate by a fraction of a decade: Bjorck et al. 2025, "Scaling optimal LR across
  token horizons"; Everett et al. 2024, "Scaling exponents across parameterizations and optimizers"), and the two
  worst families swap their offsets (one family's rank among the families changes); the best and the runner-up stay.
* **misleading**: the same moves, and the best and the runner-up families swap their offsets, so the earlier study's
  best family is now second, by the instance's gap: prior knowledge that points the wrong way.

The moves are drawn from the pair's seed; the optimum of the later landscape is found as for any instance
(:func:`benchmarks.problems.llm_family.solve`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmarks.problems.llm_family import LandscapeSpec
from benchmarks.problems.llm_family import LLMLandscapeProblem


KINDS = ("related", "misleading")
LR_SHIFT = (0.1, 0.3)


def later_spec(spec: LandscapeSpec, kind: str) -> LandscapeSpec:
    """The later landscape of the pair ``kind`` made from the earlier one (module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown pair kind {kind!r}; known: {', '.join(KINDS)}")
    rng = np.random.default_rng([spec.seed, 0x5A1F])
    shifts = rng.uniform(*LR_SHIFT, len(spec.families)) * rng.choice([-1.0, 1.0], len(spec.families))
    families = [dataclasses.replace(f, log10_lr=f.log10_lr + float(d)) for f, d in zip(spec.families, shifts)]
    offsets = [f.offset for f in families]
    by_offset = sorted(range(len(families)), key=offsets.__getitem__)
    swaps = [(by_offset[-1], by_offset[-2])]
    if kind == "misleading":
        swaps.append((by_offset[0], by_offset[1]))
    for a, b in swaps:
        offsets[a], offsets[b] = offsets[b], offsets[a]
    families = [dataclasses.replace(f, offset=o) for f, o in zip(families, offsets)]
    adaptive = sorted((f for f in families if f.name != "sgd"), key=lambda f: f.offset)
    return dataclasses.replace(spec, families=tuple(families), best=adaptive[0].name, runner_up=adaptive[1].name)


class LaterLandscape(LLMLandscapeProblem):
    """The later landscape of a pair: the same search space as ``llm_family_<seed>``, another loss."""

    def __init__(self, seed: int, kind: str) -> None:
        super().__init__(seed)
        self.spec = later_spec(self.spec, kind)
        self.kind = kind
        self.name = f"llm_{kind}_{seed}"
