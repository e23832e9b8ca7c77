"""The early-commitment diagnostic: hand-built rows with known answers, and the runner's family records."""

from __future__ import annotations

import math

import optuna
import pytest

from benchmarks import report
from benchmarks.problems import llm
from benchmarks.problems import make_problem
from benchmarks.runner import run_study
from benchmarks.runner import Task


MINIMA = {"sgd": 1.64, "adamw": 1.58, "adafactor": 1.60}  # best: adamw; runner-up: adafactor at 1.60
UNTUNED, TUNED, RUNNER_UP_TUNED = 1.9, 1.59, 1.61


def _row(seed: int, trials: list[tuple[str, float]], *, families: bool = True) -> dict:
    """A finished study's row from (family, noise-free value) per trial (observed values without noise)."""
    values = [v for _, v in trials]
    incumbent, best = [], math.inf
    for v in values:
        best = min(best, v)
        incumbent.append(best)
    row = {
        "seed": seed,
        "n_trials": len(trials),
        "optuna_version": optuna.__version__,
        "optimum": min(MINIMA.values()),
        "values": values,
        "true_values": values,
        "best_so_far": incumbent,
        "incumbent_true": incumbent,
        "sampler_seconds": [0.01] * len(trials),
        "wall_seconds": 1.0,
    }
    if families:
        row.update(families=[f for f, _ in trials], family_minima=dict(MINIMA))
    return row


def _early_to_runner_up(seed: int = 0) -> dict:
    """Tries adamw at untuned rates, then settles on adafactor, which it tunes: never a tuned adamw trial."""
    trials = [("adamw", UNTUNED), ("sgd", 2.0)] * 5 + [("adafactor", RUNNER_UP_TUNED)] * 190
    return _row(seed, trials)


def _late_to_best(seed: int = 1) -> dict:
    """Mostly adafactor, a first tuned adamw trial at trial 150, adamw from then on."""
    trials = [("adafactor", RUNNER_UP_TUNED)] * 120 + [("adamw", UNTUNED)] * 29 + [("adamw", TUNED)] * 51
    return _row(seed, trials)


def _never_best(seed: int = 2) -> dict:
    """Never tries adamw at all."""
    return _row(seed, [("sgd", 1.7), ("adafactor", 1.65)] * 100)


def test_one_study_s_commitment_reads_its_last_trials_and_its_first_tuned_best_family_trial() -> None:
    early = report.study_commitment(_early_to_runner_up(), "adamw", 1.60)
    assert early == {
        "recorded": True,
        "in_best_basin": False,
        "best_share": 0.0,
        "committed": False,
        "first_tuned": math.inf,
        "trials": 200,
    }
    late = report.study_commitment(_late_to_best(), "adamw", 1.60)
    assert late["first_tuned"] == 150.0  # 1-based: the 150th trial is the first below the runner-up's minimum
    assert late["best_share"] == 1.0 and late["committed"] and late["in_best_basin"]
    never = report.study_commitment(_never_best(), "adamw", 1.60)
    assert never["first_tuned"] == math.inf and not never["committed"] and not never["in_best_basin"]
    # an untuned best-family trial is not evidence, however many there are: mostly adamw, yet never tuned
    busy = _row(3, [("adafactor", RUNNER_UP_TUNED)] * 10 + [("adamw", UNTUNED)] * 40)
    out = report.study_commitment(busy, "adamw", 1.60, window=50)
    assert out["best_share"] == 0.8 and out["committed"] and out["first_tuned"] == math.inf
    # a row written before the runner recorded families: the basin only
    old = report.study_commitment(_row(4, [("adamw", TUNED)], families=False), "adamw", 1.60)
    assert old == {"recorded": False, "in_best_basin": True}


def test_best_and_runner_up_families_come_from_the_recorded_minima() -> None:
    assert report.best_and_runner_up(MINIMA) == ("adamw", "adafactor")
    rows = {"a": [_late_to_best()], "b": [{**_never_best(), "family_minima": {**MINIMA, "sgd": 1.62}}]}
    assert report.recorded_family_minima(rows) == {**MINIMA, "sgd": 1.62}  # the least per family
    assert report.recorded_family_minima({"a": [_row(0, [("adamw", 1.7)], families=False)]}) == {}


def test_per_sampler_shares_median_range_and_never() -> None:
    rows = {
        "cascade": [_early_to_runner_up(0), _late_to_best(1), _never_best(2)],
        "gp": [_late_to_best(0), _late_to_best(1), _row(2, [("adamw", TUNED)] * 200)],
        "random": [_row(s, [("adamw", TUNED)] * 200, families=False) for s in range(2)],
    }
    out = report.early_commitment(rows)
    assert (out["best_family"], out["runner_up"], out["runner_up_minimum"]) == ("adamw", "adafactor", 1.60)
    cascade = out["samplers"]["cascade"]
    assert cascade["committed_share"] == pytest.approx(1 / 3)
    assert cascade["first_tuned_median"] == math.inf  # two of three never: "never" counts as beyond the budget
    assert (cascade["first_tuned_min"], cascade["first_tuned_max"]) == (150.0, math.inf)
    assert cascade["never_tuned_share"] == pytest.approx(2 / 3)
    assert cascade["best_basin_share"] == pytest.approx(1 / 3) and cascade["budget"] == 200
    gp = out["samplers"]["gp"]
    assert (gp["first_tuned_median"], gp["first_tuned_min"], gp["never_tuned_share"]) == (150.0, 1.0, 0.0)
    assert gp["committed_share"] == 1.0
    random = out["samplers"]["random"]  # old rows: (a) and (b) not recorded, the basin still known
    assert random == {"studies": 2, "recorded": 0, "best_basin_share": 1.0}
    # a problem none of whose rows records families has no diagnostic
    assert report.early_commitment({"cascade": [_row(0, [("adamw", TUNED)], families=False)]}) is None


def test_the_report_adds_the_section_only_where_rows_record_families() -> None:
    with_families = {
        "llm_x": {
            "cascade": [_early_to_runner_up(0), _late_to_best(1)],
            "tpe_default": [_never_best(0), _never_best(1)],
            "gp": [_late_to_best(0), _late_to_best(1)],
            "random": [_row(s, [("adamw", TUNED)] * 200, families=False) for s in range(2)],
        },
    }
    summary = report.build_summary(with_families)
    assert set(summary["early_commitment"]) == {"llm_x"}
    md = report.write_markdown(summary, {}, report.cost_table(with_families), "t")
    assert "## Early commitment" in md
    header = next(line for line in md.splitlines() if line.startswith("| problem | measure |"))
    assert header.split(" | ")[2:4] == ["cascade", "gp"]  # GPSampler's column beside the cascade's
    first = next(line for line in md.splitlines() if "| first tuned `adamw` trial" in line)
    assert "| 150 [150, 150] of 200 |" in first and "| not recorded |" in first
    assert "| never [150, never] of 200 |" in first  # the cascade: one of two never did

    without = {p: {s: [{k: v for k, v in r.items() if k != "families"} for r in rs] for s, rs in by.items()}
               for p, by in with_families.items()}  # fmt: skip
    plain = report.build_summary(without)
    assert "early_commitment" not in plain
    md_plain = report.write_markdown(plain, {}, report.cost_table(without), "t")
    assert "Early commitment" not in md_plain
    assert md_plain == md.replace(md[md.index("## Early commitment") : md.index("## Cost")], "")


def test_llm_family_minima_are_the_strategy_minima_grouped_by_optimizer() -> None:
    problem = make_problem("llm_strong")
    minima = problem.family_minima()
    assert set(minima) == set(llm.OPTIMIZERS)
    assert min(minima.values()) == problem.optimum()  # one minimisation behind both
    assert report.best_and_runner_up(minima) == ("adamw", "adafactor")  # OPTIMIZER_LOSS: adamw, adafactor, sgd
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
