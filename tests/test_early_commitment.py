"""The early-commitment diagnostic: hand-built rows with known answers, and the runner's family records."""

from __future__ import annotations

from benchmarks.problems import llm
from benchmarks.problems import make_problem
from benchmarks.runner import run_study
from benchmarks.runner import Task


def test_llm_family_minima_are_the_strategy_minima_grouped_by_optimizer() -> None:
    problem = make_problem("llm_strong")
    minima = problem.family_minima()
    assert set(minima) == set(llm.OPTIMIZERS)
    assert min(minima.values()) == problem.optimum()  # one minimisation behind both
    assert sorted(minima, key=minima.get) == ["adamw", "adafactor", "sgd"]  # OPTIMIZER_LOSS
    by_optimizer = {o: min(v for k, v in llm.strategy_minima("strong").items() if k[0] == o) for o in minima}
    assert minima == by_optimizer
    assert make_problem("llm_strong_hand").family_minima() == minima
    assert problem.family({"optimizer": "sgd", "learning_rate": 0.1}) == "sgd"


def test_the_runner_records_each_trial_s_family_in_the_order_of_values() -> None:
    seen: list[str] = []
    row = run_study(
        Task("t", "llm_strong", "random", 0, 12),
        on_study=lambda study: seen.extend(t.params["optimizer"] for t in study.trials),
    )
    assert row["families"] == seen and len(row["families"]) == len(row["values"]) == 12
    assert row["family_minima"] == llm.family_minima("strong")
    # with simulated workers trials finish out of order: random search draws the same trials, recorded as told
    four = run_study(Task("t", "llm_strong", "random", 0, 12, n_workers=4))
    assert four["families"] == row["families"] and four["values"] == row["values"]
    # a problem without families keeps the rows it always had
    other = run_study(Task("t", "synthetic_20000000", "random", 0, 5))
    assert "families" not in other and "family_minima" not in other
