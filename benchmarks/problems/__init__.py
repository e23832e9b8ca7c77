"""Benchmark problems, one module per family, registered by name.

Every problem is built lazily: an import of this package loads no external benchmark, so the quick suite needs only
the packages of the problems it runs.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.problems.base import Evaluation
from benchmarks.problems.base import Params
from benchmarks.problems.base import Problem


def _llm(variant: str, hand_conditioned: bool = False) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.llm import LLMFineTuning

        return LLMFineTuning(variant, hand_conditioned=hand_conditioned)

    return make


def _llm_family(seed: int) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.llm_family import LLMLandscapeProblem

        return LLMLandscapeProblem(seed)

    return make


def _lora_table() -> Problem:
    from benchmarks.problems.lora_table import LoraTableProblem

    return LoraTableProblem()


def _llm_trainer(seed: int) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.llm_trainer import TrainerSpaceProblem

        return TrainerSpaceProblem(seed)

    return make


def _llm_memory(seed: int) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.llm_memory import MemoryConstrainedLandscape

        return MemoryConstrainedLandscape(seed)

    return make


def _yahpo(scenario: str, instance: str) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.yahpo import YahpoProblem

        return YahpoProblem(scenario, instance)

    return make


def _fcnet(dataset: str) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.fcnet import FCNetProblem

        return FCNetProblem(dataset)

    return make


def _mixint(function: int) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.mixint import MixintProblem

        return MixintProblem(function, dimension=10, instance=1)

    return make


def _synthetic(seed: int) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.synthetic import SyntheticMixedProblem

        return SyntheticMixedProblem(seed)

    return make


def _training(dataset: str) -> Callable[[], Problem]:
    def make() -> Problem:
        from benchmarks.problems.training import MLPTraining

        return MLPTraining(dataset)

    return make


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "llm_strong": _llm("strong"),
    "llm_smooth": _llm("smooth"),
    "llm_strong_hand": _llm("strong", hand_conditioned=True),
    "llm_smooth_hand": _llm("smooth", hand_conditioned=True),
    "yahpo_xgboost_1501": _yahpo("rbv2_xgboost", "1501"),
    "yahpo_xgboost_40499": _yahpo("rbv2_xgboost", "40499"),
    "yahpo_lcbench_167184": _yahpo("lcbench", "167184"),
    "fcnet_protein": _fcnet("protein_structure"),
    "fcnet_naval": _fcnet("naval_propulsion"),
    "mixint_f10_d10": _mixint(10),
    "mixint_f21_d10": _mixint(21),
    "mlp_digits": _training("digits"),
}
# Drawn LoRA fine-tuning landscapes (benchmarks.problems.llm_family): the published six, the `llm_family` suite.
PUBLISHED_LLM_FAMILY = (1, 2, 3, 4, 5, 6)
PROBLEMS.update({f"llm_family_{k}": _llm_family(k) for k in PUBLISHED_LLM_FAMILY})
# The same landscapes under a GPU-memory budget (benchmarks.problems.llm_memory): the `constrained` suite.
CONSTRAINED_LLM = (2, 4)
PROBLEMS.update({f"llm_memory_{k}": _llm_memory(k) for k in CONSTRAINED_LLM})
# The same landscapes written as Trainer users write a space, eight categorical lists (benchmarks.problems.llm_trainer):
# published instances in the `llm_trainer` suite, held-out ones in `llm_trainer_heldout` (kept out of HELDOUT_PROBLEMS,
# whose suite predates them).
PUBLISHED_LLM_TRAINER = (1, 2, 3, 4)
HELDOUT_LLM_TRAINER = tuple(range(1000, 1020))
PROBLEMS.update({f"llm_trainer_{k}": _llm_trainer(k) for k in (*PUBLISHED_LLM_TRAINER, *HELDOUT_LLM_TRAINER)})
# The surrogate of the table of real LoRA fine-tuning runs (benchmarks.problems.lora_table): the `lora_table` suite.
PROBLEMS["lora_table"] = _lora_table
# Held-out problems (the `heldout` suite): a change of the algorithm is checked on them after it is made (the README
# says which of them were looked at while one was being chosen). The other 22 bbob-mixint functions in dimension 10,
# YAHPO-SO instances the full suite does not use, and synthetic mixed spaces drawn from seeds the pre-training never
# draws, and LoRA fine-tuning landscapes drawn from seeds the published ones do not use (their own suite,
# `llm_family_heldout`).
HELDOUT_MIXINT = tuple(f for f in range(1, 25) if f not in (10, 21))
HELDOUT_YAHPO = (
    ("rbv2_xgboost", "12"),
    ("rbv2_xgboost", "16"),
    ("lcbench", "167168"),
    ("lcbench", "189873"),
    ("rbv2_rpart", "14"),
)
HELDOUT_SYNTHETIC = tuple(range(20_000_000, 20_000_030))
HELDOUT_LLM_FAMILY = tuple(range(1000, 1030))
_HELDOUT: dict[str, Callable[[], Problem]] = {
    **{f"mixint_f{f}_d10": _mixint(f) for f in HELDOUT_MIXINT},
    **{f"yahpo_{s.removeprefix('rbv2_')}_{i}": _yahpo(s, i) for s, i in HELDOUT_YAHPO},
    **{f"synthetic_{k}": _synthetic(k) for k in HELDOUT_SYNTHETIC},
    **{f"llm_family_{k}": _llm_family(k) for k in HELDOUT_LLM_FAMILY},
}
PROBLEMS.update(_HELDOUT)
HELDOUT_PROBLEMS = tuple(_HELDOUT)


def make_problem(name: str) -> Problem:
    try:
        return PROBLEMS[name]()
    except KeyError:
        raise KeyError(f"unknown problem {name!r}; known: {sorted(PROBLEMS)}") from None


__all__ = [
    "CONSTRAINED_LLM",
    "HELDOUT_LLM_FAMILY",
    "HELDOUT_LLM_TRAINER",
    "PUBLISHED_LLM_TRAINER",
    "HELDOUT_PROBLEMS",
    "PROBLEMS",
    "PUBLISHED_LLM_FAMILY",
    "Evaluation",
    "Params",
    "Problem",
    "make_problem",
]
