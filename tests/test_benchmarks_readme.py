"""The README's benchmark section is written from the report's summary, never by hand."""

import json
import sys

import pytest

from benchmarks import readme


def _write_readme(*args: str) -> None:
    """``python -m benchmarks.readme ARGS``, in this process."""
    argv = sys.argv
    sys.argv = ["readme", *args]
    try:
        readme.main()
    finally:
        sys.argv = argv


def _summary():
    entry = {
        "samplers": {
            "cascade": {"seeds": 20, "trials": 200, "final_regret": 0.01},
            "tpe_default": {"seeds": 20, "trials": 200, "final_regret": 0.05},
        },
        "reach": {"tpe_default": {"median_trials": 87.0, "ci_low": 60.0, "ci_high": float("inf")}},
        "best_tpe": "tpe_default",
    }
    timing = {"cascade": {"problem": "llm_strong", "studies": 3, "at_100": 0.031, "at_1000": 0.052}}
    return {"problems": {"llm_strong": entry}, "timing": timing}


def test_section_is_rewritten_between_the_markers(tmp_path):
    (tmp_path / "full" / "report").mkdir(parents=True)
    (tmp_path / "full" / "report" / "summary.json").write_text(json.dumps(_summary()))
    target = tmp_path / "README.md"
    target.write_text(f"intro\n{readme.BEGIN}\nstale figure 0.999\n{readme.END}\noutro\n")
    _write_readme("--results", str(tmp_path), "--readme", str(target))
    text = target.read_text()
    assert "stale figure" not in text
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert "| llm_strong | 0.01 | 0.05 | 87 [60, not reached] vs `tpe_default` |" in text
    assert "| cascade | 3 | 0.031 | 0.052 |" in text
    assert "20 x 200" in text


def test_other_suites_fill_their_own_block_and_leave_the_full_one(tmp_path):
    (tmp_path / "parallel" / "report").mkdir(parents=True)
    (tmp_path / "parallel" / "report" / "summary.json").write_text(json.dumps(_summary()))
    target = tmp_path / "README.md"
    begin, end = readme.markers("parallel")
    target.write_text(f"{readme.BEGIN}\nfull block\n{readme.END}\n{begin}\nstale\n{end}\n")
    _write_readme("--suite", "parallel", "--results", str(tmp_path), "--readme", str(target))
    text = target.read_text()
    assert "full block" in text and "stale" not in text
    assert "| llm_strong | 0.01 | 0.05 | 87 [60, not reached] vs `tpe_default` |" in text
    assert "s/trial" not in text  # the overhead table belongs to the full suite's block only


def test_ablation_block_pairs_the_full_cascade_with_each_ablation(tmp_path):
    def paired(win, loss, p):
        return [{"at": 100, "win": 1, "tie": 0, "loss": 9, "p": 0.5}, {"at": 200, "win": win, "tie": 0, "loss": loss, "p": p}]

    entry = {
        "samplers": {
            "cascade": {"seeds": 10, "trials": 200, "final_regret": 0.047},
            "cascade_flat": {"seeds": 10, "trials": 200, "final_regret": 0.114},
            "cascade_no_low_level_learning": {"seeds": 10, "trials": 200, "final_regret": 0.099},
        },
        "paired": {"cascade_flat": paired(10, 0, 0.001953), "cascade_no_low_level_learning": paired(9, 1, 0.0039)},
    }
    (tmp_path / "ablation" / "report").mkdir(parents=True)
    (tmp_path / "ablation" / "report" / "summary.json").write_text(json.dumps({"problems": {"llm_strong": entry}}))
    target = tmp_path / "README.md"
    begin, end = readme.markers("ablation")
    target.write_text(f"{begin}\n| llm_strong | 0.5 |\n{end}\n")
    _write_readme("--suite", "ablation", "--results", str(tmp_path), "--readme", str(target))
    text = target.read_text()
    # The last checkpoint's test, not the first; an ablation that was not run is a dash.
    assert "| llm_strong | 0.047 | — | 0.099 (9/1, p = 0.0039) | 0.114 (10/0, p = 0.002) |" in text
    assert "0.5 |" not in text and "over 10 seeds" in text


def test_heldout_block_pools_each_family_with_a_sign_test():
    def entry(win, loss, mine, theirs):
        paired = [{"at": at, "win": win, "loss": loss} for at in (50, 100, 200)]
        return {"samplers": {"cascade": {"seeds": 3, "final_regret": mine},
                             "tpe_default": {"seeds": 3, "final_regret": theirs}},
                "paired": {"tpe_default": paired}}

    summary = {"challenger": "cascade", "problems": {
        "mixint_f1_d10": entry(3, 0, 0.1, 0.2), "mixint_f2_d10": entry(3, 0, 0.1, 0.3),
        "synthetic_7": entry(1, 2, 0.5, 0.4)}}
    text = readme.section(summary, "heldout")
    # 6 of 6 pooled over the two mixint problems: p = 2 * 0.5**6
    assert "| bbob-mixint (22 functions, d = 10): 2 x 3 seeds | `tpe_default` | 6/0, p = 0.031 |" in text
    assert "| 2 / 0 |" in text  # both mixint problems have the lower median
    assert "| synthetic mixed spaces: 1 x 3 seeds | `tpe_default` | 1/2, p = 1 |" in text


@pytest.mark.slow  # re-makes every committed report from its rows
@pytest.mark.parametrize("suite", ["full", "heldout", "parallel", "ablation", "pretraining"])
def test_the_committed_report_and_readme_block_are_what_the_committed_rows_make(suite):
    """A report written before some rows changed (the timing suite's, say) or a hand-edited figure fails here."""
    from benchmarks.report import report_texts
    from benchmarks.runner import RESULTS_DIR

    texts = report_texts(suite)
    # The formatted report, not summary.json's full-precision floats, which a newer SciPy could move in the last digits.
    committed = (RESULTS_DIR / suite / "report" / "REPORT.md").read_text()
    assert texts["REPORT.md"] == committed, f"{suite}/report/REPORT.md is stale: python -m benchmarks report --suite {suite}"
    current = readme.README.read_text()
    assert readme.with_section(current, json.loads(texts["summary.json"]), suite) == current, (
        f"the README's {suite} block is stale: python -m benchmarks.readme --suite {suite}")
