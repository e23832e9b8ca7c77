"""The warm-start benchmark: its pairs of landscapes (benchmarks/problems/llm_pairs.py) and its harness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import rows
from benchmarks import warm_start as ws
from benchmarks.problems.llm_family import LLMLandscapeProblem
from benchmarks.problems.llm_pairs import LaterLandscape
from benchmarks.problems.llm_pairs import LR_SHIFT


@pytest.mark.parametrize("seed", [1, 3, 4, 6])
def test_a_related_pair_keeps_the_best_family_and_a_misleading_one_swaps_it_with_the_runner_up(seed: int) -> None:
    earlier = LLMLandscapeProblem(seed)
    related, misleading = LaterLandscape(seed, "related"), LaterLandscape(seed, "misleading")
    for later in (related, misleading):
        assert later.spec.family_names == earlier.spec.family_names and later.spec.schedules == earlier.spec.schedules
        for old, new in zip(earlier.spec.families, later.spec.families):
            assert LR_SHIFT[0] <= abs(new.log10_lr - old.log10_lr) <= LR_SHIFT[1]
        minima = later.family_minima()
        assert min(minima, key=minima.get) == later.spec.best
    old_minima = earlier.family_minima()
    assert related.spec.best == earlier.spec.best and related.spec.runner_up == earlier.spec.runner_up
    assert misleading.spec.best == earlier.spec.runner_up and misleading.spec.runner_up == earlier.spec.best
    ranks = lambda m: sorted(m, key=m.get)  # noqa: E731
    assert ranks(related.family_minima()) != ranks(old_minima)  # one family's rank changed
    # the same search space: a configuration of one is a configuration of the other
    params = earlier.optimum_params()
    assert related.evaluate(params, 0).true_value > related.optimum()


def test_the_quick_run_records_every_sampler_and_the_report_pairs_them(tmp_path: Path) -> None:
    assert ws.main(["run", "--quick", "--results", str(tmp_path), "--pairs", "misleading", "--workers", "1"]) == 0
    data = ws.load(tmp_path)
    assert set(data) == {"misleading"}
    assert set(data["misleading"]) == {"cascade_warm", "cascade", "tpe_warm", "tpe"}
    by_sampler = data["misleading"]
    for rs in by_sampler.values():
        assert [r["seed"] for r in rs] == [0, 1]
        for r in rs:
            assert len(r["values"]) == 30 and r["n_earlier"] == 20
            assert r["best_so_far"] == [min(r["values"][: i + 1]) for i in range(30)]
    # every sampler met the same earlier study and the same noise: equal earlier bests, equal values for equal params
    assert len({r["earlier_best_true"] for rs in by_sampler.values() for r in rs if r["seed"] == 0}) == 1
    # the warm starts opened with the earlier study's configurations (TPE: after add_trials, its own choice)
    assert by_sampler["cascade_warm"][0]["values"][:2] != by_sampler["cascade"][0]["values"][:2]
    assert ws.main(["report", "--results", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "warm_start" / "report" / "summary.json").read_text())
    tests = summary["misleading"]["comparisons"]["cascade_warm vs cascade"]
    assert set(tests) == {"10", "25"} and tests["25"]["n"] == 2
    assert "cascade_warm to tpe" in summary["misleading"]["reach"]
    text = (tmp_path / "warm_start" / "report" / "REPORT.md").read_text()
    assert "## misleading" in text and "| cascade_warm vs tpe_warm |" in text
    # a re-run finds nothing to do
    assert ws.run(tmp_path, pairs=["misleading"], samplers=["tpe"], n_seeds=2, n_later=30, log=lambda *_: None) == 0
    assert len(rows.read(rows.path(tmp_path, "warm_start", "misleading", "tpe"))) == 2


def test_the_committed_report_is_what_its_committed_rows_make() -> None:
    from benchmarks.runner import RESULTS_DIR

    committed = (RESULTS_DIR / "warm_start" / "report" / "REPORT.md").read_text()
    assert ws.markdown(ws.summarise(ws.load(RESULTS_DIR))) == committed, "stale: python -m benchmarks.warm_start report"
