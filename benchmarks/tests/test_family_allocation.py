"""benchmarks.family_allocation: the measures of one study, on a row whose allocation is known."""

from __future__ import annotations

import math

from benchmarks.family_allocation import study_allocation


def _row(families: list[str], true_values: list[float]) -> dict:
    return {"families": families, "true_values": true_values, "family_minima": {"adamw": 1.0, "sgd": 1.5}}


def test_shares_count_trials_on_the_best_family_after_the_start() -> None:
    # trials 0-9 all on sgd (ignored by the shares); 10-24 alternate; 25-49 all adamw
    families = ["sgd"] * 10 + ["adamw", "sgd"] * 7 + ["adamw"] + ["adamw"] * 25
    values = [2.0] * 10 + [1.3, 1.6] * 7 + [1.2] + [1.05] * 25
    m = study_allocation(_row(families, values))
    assert m is not None
    assert m["share_10_25"] == 8 / 15
    assert m["share_10_50"] == (8 + 25) / 40
    assert m["best_family_trials_50"] == 33
    assert math.isclose(m["gap_25"], 0.2) and math.isclose(m["gap_50"], 0.05)


def test_a_best_family_never_tried_has_an_infinite_gap_and_rows_without_families_are_skipped() -> None:
    m = study_allocation(_row(["sgd"] * 50, [1.6] * 50))
    assert m is not None and m["share_10_50"] == 0.0 and m["gap_50"] == math.inf
    assert study_allocation({"families": None, "family_minima": None, "true_values": []}) is None


def test_studies_without_a_best_family_trial_are_counted_not_averaged(tmp_path) -> None:
    from benchmarks import rows as rows_io
    from benchmarks.family_allocation import markdown
    from benchmarks.family_allocation import summarise

    tried = _row(["adamw"] * 50, [1.1] * 50)
    untried = _row(["sgd"] * 50, [1.6] * 50)
    path = rows_io.path(tmp_path, "suite", "llm_family_1", "cascade")
    path.parent.mkdir(parents=True)
    path.write_bytes(rows_io.encode([{**tried, "seed": 0}, {**untried, "seed": 1}, {**untried, "seed": 2}]))
    summary = summarise(tmp_path / "suite")["cascade"]
    assert summary["studies"] == 3 and summary["untried_50"] == 2
    assert math.isclose(summary["gap_50"][1], 0.1)
    assert "(2 untried)" in markdown("suite", {"cascade": summary})
