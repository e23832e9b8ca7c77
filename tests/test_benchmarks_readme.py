"""The README's benchmark section is written from the report's summary, never by hand."""

import json

from benchmarks import readme


def _summary():
    entry = {
        "samplers": {
            "cascade": {"seeds": 20, "trials": 200, "final_regret": 0.01},
            "tpe_default": {"seeds": 20, "trials": 200, "final_regret": 0.05},
        },
        "reach": {"tpe_default": {"median_trials": 87.0, "ci_low": 60.0, "ci_high": float("inf")}},
        "best_tpe": "tpe_default",
    }
    timing = {"cascade": {"problem": "llm_strong", "at_100": 0.031, "at_1000": 0.052}}
    return {"problems": {"llm_strong": entry}, "timing": timing}


def test_section_is_rewritten_between_the_markers(tmp_path):
    (tmp_path / "full" / "report").mkdir(parents=True)
    (tmp_path / "full" / "report" / "summary.json").write_text(json.dumps(_summary()))
    target = tmp_path / "README.md"
    target.write_text(f"intro\n{readme.BEGIN}\nstale figure 0.999\n{readme.END}\noutro\n")
    import sys

    argv = sys.argv
    sys.argv = ["readme", "--results", str(tmp_path), "--readme", str(target)]
    try:
        readme.main()
    finally:
        sys.argv = argv
    text = target.read_text()
    assert "stale figure" not in text
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert "| llm_strong | 0.01 | 0.05 | 87 [60, not reached] vs `tpe_default` |" in text
    assert "| cascade | 0.031 | 0.052 |" in text
    assert "20 x 200" in text


def test_other_suites_fill_their_own_block_and_leave_the_full_one(tmp_path):
    (tmp_path / "parallel" / "report").mkdir(parents=True)
    (tmp_path / "parallel" / "report" / "summary.json").write_text(json.dumps(_summary()))
    target = tmp_path / "README.md"
    begin, end = readme.markers("parallel")
    target.write_text(f"{readme.BEGIN}\nfull block\n{readme.END}\n{begin}\nstale\n{end}\n")
    import sys

    argv = sys.argv
    sys.argv = ["readme", "--suite", "parallel", "--results", str(tmp_path), "--readme", str(target)]
    try:
        readme.main()
    finally:
        sys.argv = argv
    text = target.read_text()
    assert "full block" in text and "stale" not in text
    assert "| llm_strong | 0.01 | 0.05 | 87 [60, not reached] vs `tpe_default` |" in text
    assert "s/trial" not in text  # the overhead table belongs to the full suite's block only
