"""The memory-constrained LoRA landscapes (benchmarks/problems/llm_memory.py) and how the runner scores them."""

from __future__ import annotations

import pytest

from benchmarks.problems import CONSTRAINED_LLM
from benchmarks.problems import llm_memory as lm
from benchmarks.problems import make_problem
from benchmarks.problems.llm_family import LLMLandscapeProblem
from benchmarks.runner import incumbents
from benchmarks.runner import run_study
from benchmarks.runner import Task


OVER = "memory_over_budget_gib"


def _config(**kw) -> dict:
    return {"optimizer": "adamw", "lora_rank": 16, "lora_targets": "attn_qv", "batch_size": 16, **kw}


def test_memory_grows_with_batch_rank_and_target_modules_and_with_the_optimizer_state() -> None:
    m = lambda **kw: lm.memory_gib(_config(**kw), 512)  # noqa: E731
    assert m(batch_size=8) < m(batch_size=16) < m(batch_size=64)
    assert m(lora_rank=8) < m(lora_rank=16) < m(lora_rank=64)
    assert m(lora_targets="attn_qv") < m(lora_targets="attn_all") < m(lora_targets="all_linear")
    assert m(lora_targets="mlp") < m(lora_targets="all_linear")
    assert m(optimizer="adafactor") < m(optimizer="lion") == m(optimizer="sgd") < m(optimizer="adamw")
    assert lm.memory_gib(_config(), 1024) > m()
    # 7B in bf16 is the floor; one 512-token example with checkpointing costs a fraction of a GiB
    assert 12.5 < lm.base_gib() < 12.6 < m(batch_size=8)
    assert 0.2 < lm.per_example_gib(512, 16, "attn_qv") < 0.5


def test_published_instances_are_registered_and_described() -> None:
    assert CONSTRAINED_LLM == lm.PUBLISHED_SEEDS
    assert lm.describe() in lm.__doc__
    assert make_problem("llm_memory_4").name == "llm_memory_4"


@pytest.mark.parametrize("seed", CONSTRAINED_LLM)
def test_the_unconstrained_optimum_does_not_fit_and_the_constrained_one_does(seed: int) -> None:
    problem = lm.MemoryConstrainedLandscape(seed)
    free = LLMLandscapeProblem(seed)
    assert problem.constraints(free.optimum_params())[OVER] > 0.0
    assert problem.unconstrained_optimum() == pytest.approx(free.optimum())
    assert problem.optimum() > problem.unconstrained_optimum()
    for name, value in problem.family_minima().items():
        params = problem.family_best_params(name)
        assert problem.constraints(params)[OVER] <= 0.0
        assert problem.evaluate(params, 0).true_value == pytest.approx(value)
    cheapest = _config(optimizer="adafactor", lora_rank=problem.spec.rank_levels[0], batch_size=8)
    assert problem.constraints(cheapest)[OVER] < 0.0


def test_a_configuration_that_does_not_fit_reports_the_worst_value_and_how_far_it_misses() -> None:
    problem = lm.MemoryConstrainedLandscape(4)
    params = dict(problem.family_best_params("adamw"), batch_size=256)
    assert problem.constraints(params)[OVER] == pytest.approx(problem.memory(params) - problem.budget_gib)
    assert problem.constraints(params)[OVER] > 0.0
    assert problem.evaluate(params, 3).value == lm.OUT_OF_MEMORY_LOSS
    assert problem.evaluate(dict(params, batch_size=8), 3).value < 3.0


def test_the_incumbent_is_the_best_feasible_trial_and_the_worst_value_before_any() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 0.5]
    true = [5.1, 1.1, 3.1, 2.1, 0.6]
    best, inc = incumbents(values, true, [False, False, True, True, False])
    assert best == [5.0, 5.0, 3.0, 2.0, 2.0]
    assert inc == [5.1, 5.1, 3.1, 2.1, 2.1]
    assert incumbents(values, true, [True] * 5)[0] == [5.0, 1.0, 1.0, 1.0, 0.5]


def test_a_constrained_study_records_feasibility_and_its_best_is_feasible() -> None:
    row = run_study(Task("constrained", "llm_memory_4", "tpe_default", 0, 30))
    problem = make_problem("llm_memory_4")
    assert len(row["feasible"]) == 30 and 0 < sum(row["feasible"]) < 30
    assert problem.constraints(row["best_params"])[OVER] <= 0.0
    feasible_values = [v for v, f in zip(row["values"], row["feasible"]) if f]
    assert row["best_so_far"][-1] == min(feasible_values)
    for v, f in zip(row["values"], row["feasible"]):
        assert f or v == pytest.approx(lm.OUT_OF_MEMORY_LOSS)


def test_every_sampler_sees_the_constraint_values_as_optuna_stores_them(monkeypatch) -> None:
    """The runner stores the values with ``trial.set_constraint``: ``study.best_trial`` skips the infeasible trials
    (the cascade, TPESampler and GPSampler all read ``trial.constraints``)."""
    import benchmarks.runner as runner

    seen = {}

    def state(sampler, study) -> dict:
        seen["study"] = study
        return {}

    monkeypatch.setattr(runner, "sampler_state", state)
    run_study(Task("constrained", "llm_memory_4", "random", 0, 40))
    study = seen["study"]
    problem = make_problem("llm_memory_4")
    for trial in study.trials:
        assert trial.constraints == pytest.approx(problem.constraints(trial.params))
    infeasible = [t for t in study.trials if t.constraints[OVER] > 0.0]
    assert infeasible and problem.constraints(study.best_trial.params)[OVER] <= 0.0


def test_the_report_gives_each_sampler_s_infeasible_share_and_raw_regret() -> None:
    from benchmarks.report import feasibility
    from benchmarks.report import feasibility_table

    found = {s: [run_study(Task("constrained", "llm_memory_4", s, seed, 60)) for seed in (0, 1)] for s in ("random",)}
    found["tpe_default"] = [run_study(Task("constrained", "llm_memory_4", "tpe_default", 0, 60))]
    table = feasibility(found)
    for sampler, rs in found.items():
        share = sum(1 - sum(r["feasible"]) / 60 for r in rs) / len(rs)
        assert table[sampler]["infeasible_share"] == pytest.approx(share)
        early = sum(1 - sum(r["feasible"][:50]) / 50 for r in rs) / len(rs)
        assert table[sampler]["infeasible_share trials 1-50"] == pytest.approx(early)
        assert table[sampler]["infeasible_share trials 101-200"] is None  # no trial past 60
        regret = [r["incumbent_true"][49] - r["optimum"] for r in rs]
        assert table[sampler]["regret"]["50"] == pytest.approx(sum(regret) / len(regret))  # the median of 1 or 2
    assert table["random"]["infeasible_share"] > table["tpe_default"]["infeasible_share"]
    assert any(line.startswith("| llm_memory_4 | random | 2 |") for line in feasibility_table({"llm_memory_4": table}))
    assert feasibility({"cascade": [{k: v for k, v in found["random"][0].items() if k != "feasible"}]}) is None
