"""The benchmark tables of the README and of docs/ are written from the reports' summaries, never by hand."""

import functools
import json
import math
from pathlib import Path
import re

import pytest

from benchmarks import readme


def _summary():
    entry = {
        "samplers": {
            "cascade": {"seeds": 20, "trials": 200, "final_regret": 0.01, "median_regret": {"50": 0.2, "200": 0.01}},
            "tpe_default": {
                "seeds": 20,
                "trials": 200,
                "final_regret": 0.05,
                "median_regret": {"50": 0.1, "200": 0.05},
            },
            "gp": {"seeds": 20, "trials": 200, "final_regret": 0.004, "median_regret": {"50": 0.3, "200": 0.004}},
            "cmaes_margin": {
                "seeds": 2,
                "trials": 200,
                "final_regret": 0.0001,
                "median_regret": {"50": 0.0001, "200": 0.0001},
            },
        },
        "reach": {"tpe_default": {"median_trials": 87.0, "ci_low": 60.0, "ci_high": float("inf")}},
        "paired": {
            "tpe_default": [
                {"at": 50, "win": 2, "loss": 18, "p": 0.001},
                {"at": 200, "win": 17, "loss": 3, "p": 0.0012},
            ],
            "gp": [{"at": 200, "win": 8, "loss": 12, "p": 0.55}],
        },
        "best_tpe": "tpe_default",
    }
    timing = {"cascade": {"problem": "llm_strong", "studies": 3, "at_100": 0.031, "at_1000": 0.052}}
    return {"problems": {"llm_strong": entry}, "timing": timing, "challenger": "cascade"}


def _pages(root: Path, blocks: dict[str, str] | None = None) -> None:
    """Every registered page under ``root``, each block holding ``blocks[name]`` (default: a stale figure)."""
    for page in readme.pages():
        parts = [f"intro of {page}\n"]
        for name, block in readme.BLOCKS.items():
            if block.page == page:
                begin, end = readme.markers(name)
                parts.append(f"{begin}\n{(blocks or {}).get(name, 'stale figure 0.999')}\n{end}\ntext after {name}\n")
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        (root / page).write_text("".join(parts))


def _results(root: Path, summaries: dict[str, dict]) -> Path:
    for suite, summary in summaries.items():
        (root / "results" / suite / "report").mkdir(parents=True)
        (root / "results" / suite / "report" / "summary.json").write_text(json.dumps(summary))
    return root / "results"


def _commitment(studies, basin_share, recorded=None, committed_share=0.5, best="adamw"):
    """One instance's early-commitment entry for one sampler, as ``benchmarks.report.early_commitment`` writes it."""
    recorded = studies if recorded is None else recorded
    return {
        "studies": studies,
        "recorded": recorded,
        "best_basin_share": basin_share,
        "committed_share": committed_share,
    }


def _block_summaries() -> dict:
    """A summary for every block's suite: the runner suites' shape, with feasibility for the constrained suite and
    early commitment for the LoRA landscapes' suites, and the warm start's own shape."""
    summaries = {b.suite: _summary() for b in readme.BLOCKS.values()}
    for suite in ("llm_family", "llm_family_heldout"):
        summaries[suite]["early_commitment"] = {
            "llm_strong": {"window": 50, "samplers": {"cascade": _commitment(20, 0.85), "gp": _commitment(5, 0.4)}}
        }
    summaries["constrained"]["feasibility"] = {
        "llm_memory_4": {
            "cascade": {
                "seeds": 20,
                "infeasible_share": 0.08,
                "infeasible_share trials 1-50": 0.17,
                "infeasible_share trials 101-200": None,
                "first_feasible_median": 3.5,
                "regret": {"25": 0.13, "200": 0.015},
            }
        }
    }
    summaries["lora_table"] = {
        "challenger": "cascade",
        "problems": {
            "lora_table": dict(
                _summary()["problems"]["llm_strong"], normalisation={"optimum": 0.3, "median_random": 0.7}
            )
        },
    }
    summaries["warm_start"] = {
        "misleading": {
            "n_seeds": {"cascade_warm": 20, "cascade": 20},
            "median_regret": {"cascade_warm": {"10": 0.0665, "200": 0.0054}, "cascade": {"10": 0.1375, "200": 0.0041}},
            "earlier_best_regret_on_earlier": 0.0176,
            "comparisons": {"cascade_warm vs cascade": {"10": None, "200": {"win": 9, "loss": 11, "p": 0.81}}},
            "reach": {
                "cascade_warm to cascade": {
                    "median_trials": math.inf,
                    "ci_low": 160,
                    "ci_high": math.inf,
                    "share_reached": 0.5,
                }
            },
        }
    }
    return summaries


def test_every_block_is_rewritten_between_its_markers_in_its_own_page(tmp_path):
    summaries = _block_summaries()
    results = _results(tmp_path, summaries)
    _pages(tmp_path)
    assert readme.main(["--results", str(results), "--root", str(tmp_path)]) == 0
    text = (tmp_path / "docs" / "benchmarks.md").read_text()
    assert "stale figure" not in text and "stale figure" not in (tmp_path / "README.md").read_text()
    assert text.startswith("intro of docs/benchmarks.md\n") and text.endswith("text after lora_table\n")
    # the real LoRA runs: regret back in validation loss (0.3 + 0.4 x regret), every budget, p < 0.05 in bold
    assert "| `cascade` | 20 | — | — | 0.3800 | — | 0.3040 |" in text
    assert "| `tpe_default` | — | — | **2/18 (p = 0.001)** | — | **17/3 (p = 0.0012)** |" in text
    assert "| `gp` | — | — | — | — | 8/12 (p = 0.55) |" in text  # level: not bold
    assert "| llm_strong | 0.01 | 0.05 | 0.004 | 0.0001 (2 seeds) | 87 [60, not reached] vs `tpe_default` |" in text
    # The overhead table belongs to the full suite's block only.
    full = text.split(readme.markers("full")[1])[0]
    assert "| cascade | 3 | 0.031 | 0.052 |" in full and text.count("| sampler | studies |") == 1
    assert "20 x 200" in full
    assert "| llm_memory_4 | cascade | 20 | 8% | 17% | — | 3.5 | — | 0.13 | — | — | 0.015 |" in text
    assert (
        "| cascade_warm vs cascade |  | 9/11 p=0.81 |" in text
        and "| cascade_warm | cascade | never [160, never] | 50% |" in text
    )
    assert text.count("| `cascade` | 1 | 20 | 17 of 20 (85%) | 10 of 20 (50%) |") == 2  # llm_family, _heldout


def test_the_readme_table_names_the_leaders_and_the_losses():
    text = readme.user_overview_section(_summary())
    row = next(line for line in text.splitlines() if line.startswith("| `llm_strong`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # At 50 trials TPE leads; at the last GPSampler does; CMA-ES's 2-seed median is not a lead.
    assert cells[1] == "`TPESampler()` (0.1)"
    assert cells[2] == "`GPSampler()` (0.004)"
    # The last checkpoint's paired test, with its verdict: ahead of TPE, level with GP.
    assert cells[3] == "**ahead** 17/3, p = 0.0012"
    assert cells[4] == "level 8/12, p = 0.55"
    assert "`CascadeSampler()` 0.031 s at trial 100, 0.052 s at trial 1,000" in text


def test_a_significant_loss_reads_behind_and_ties_are_listed():
    summary = _summary()
    entry = summary["problems"]["llm_strong"]
    entry["paired"]["gp"] = [{"at": 200, "win": 2, "loss": 18, "p": 4.8e-05}]
    entry["samplers"]["tpe_default"]["final_regret"] = 0.004
    text = readme.user_overview_section(summary)
    assert "| **behind** 2/18, p = 4.8e-05 |" in text
    assert "| tie: `TPESampler()`, `GPSampler()` (0.004) |" in text


def test_one_suite_rewrites_only_its_own_blocks(tmp_path):
    results = _results(tmp_path, {"parallel": _summary()})
    _pages(tmp_path)
    assert readme.main(["--suite", "parallel", "--results", str(results), "--root", str(tmp_path)]) == 0
    text = (tmp_path / "docs" / "benchmarks.md").read_text()
    parallel = text.split(readme.markers("parallel")[0])[1].split(readme.markers("parallel")[1])[0]
    assert "stale" not in parallel and "87 [60, not reached]" in parallel
    assert (
        text.count("stale figure 0.999")
        == len([b for b in readme.BLOCKS.values() if b.page == "docs/benchmarks.md"]) - 1
    )
    assert "s/trial" not in parallel


def test_check_reports_a_stale_block_and_writes_nothing(tmp_path, capsys):
    results = _results(tmp_path, {"ablation": {"problems": {}}})
    _pages(tmp_path)
    before = (tmp_path / "docs" / "benchmarks.md").read_text()
    assert readme.main(["--check", "--suite", "ablation", "--results", str(results), "--root", str(tmp_path)]) == 1
    assert "docs/benchmarks.md: ablation" in capsys.readouterr().err
    assert (tmp_path / "docs" / "benchmarks.md").read_text() == before


def test_a_page_with_an_unregistered_or_missing_block_is_refused(tmp_path):
    _pages(tmp_path)
    readme_path = tmp_path / "README.md"
    begin, end = readme.markers("hand_typed")
    readme_path.write_text(readme_path.read_text() + f"{begin}\n| 0.5 |\n{end}\n")
    with pytest.raises(ValueError, match="blocks nobody generates: \\['hand_typed'\\]"):
        readme.rewrite(tmp_path, _block_summaries())
    _pages(tmp_path)
    docs = tmp_path / "docs" / "benchmarks.md"
    begin, end = readme.markers("heldout")
    docs.write_text(docs.read_text().replace(begin, "").replace(end, ""))
    with pytest.raises(ValueError, match="blocks missing \\['heldout'\\]"):
        readme.rewrite(tmp_path, _block_summaries())
    docs.write_text(f"{begin}\nno end\n")
    with pytest.raises(ValueError, match="has no end marker"):
        readme.block_names(docs.read_text())


def test_an_unknown_suite_and_a_missing_summary_say_what_to_do(tmp_path):
    with pytest.raises(SystemExit):
        readme.main(["--suite", "nope", "--root", str(tmp_path)])
    with pytest.raises(SystemExit, match="python -m benchmarks report --suite ablation"):
        readme.main(["--suite", "ablation", "--results", str(tmp_path), "--root", str(tmp_path)])


def test_ablation_block_pairs_the_full_cascade_with_each_ablation():
    def paired(win, loss, p):
        return [
            {"at": 100, "win": 1, "tie": 0, "loss": 9, "p": 0.5},
            {"at": 200, "win": win, "tie": 0, "loss": loss, "p": p},
        ]

    entry = {
        "samplers": {
            "cascade": {"seeds": 10, "trials": 200, "final_regret": 0.047},
            "cascade_flat": {"seeds": 10, "trials": 200, "final_regret": 0.114},
            "cascade_no_low_level_learning": {"seeds": 10, "trials": 200, "final_regret": 0.099},
        },
        "paired": {"cascade_flat": paired(10, 0, 0.001953), "cascade_no_low_level_learning": paired(9, 1, 0.0039)},
    }
    text = readme.section({"problems": {"llm_strong": entry}}, "ablation")
    # The last checkpoint's test, not the first; an ablation that was not run is a dash.
    assert "| llm_strong | 0.047 | — | 0.099 (9/1, p = 0.0039) | 0.114 (10/0, p = 0.002) |" in text
    assert "over 10 seeds" in text


def test_heldout_block_pools_each_family_with_a_sign_test():
    def entry(win, loss, mine, theirs):
        paired = [{"at": at, "win": win, "loss": loss} for at in (50, 100, 200)]
        return {
            "samplers": {
                "cascade": {"seeds": 3, "final_regret": mine},
                "tpe_default": {"seeds": 3, "final_regret": theirs},
            },
            "paired": {"tpe_default": paired},
        }

    summary = {
        "challenger": "cascade",
        "problems": {
            "mixint_f1_d10": entry(3, 0, 0.1, 0.2),
            "mixint_f2_d10": entry(3, 0, 0.1, 0.3),
            "synthetic_7": entry(1, 2, 0.5, 0.4),
        },
    }
    text = readme.section(summary, "heldout")
    # 6 of 6 pooled over the two mixint problems: p = 2 * 0.5**6
    assert "| bbob-mixint (22 functions, d = 10): 2 x 3 seeds | `tpe_default` | 6/0, p = 0.031 |" in text
    assert "| 2 / 0 |" in text  # both mixint problems have the lower median
    assert "| synthetic mixed spaces: 1 x 3 seeds | `tpe_default` | 1/2, p = 1 |" in text
    del summary["problems"]["synthetic_7"]["samplers"]["cascade"]  # a re-run half done: say so, do not pool less
    with pytest.raises(ValueError, match="no cascade rows for synthetic_7: run `python -m benchmarks run"):
        readme.section(summary, "heldout")


def test_llm_family_block_pools_the_basin_over_the_instances_each_sampler_ran_on():
    def entry(win, loss):
        return {
            "samplers": {"cascade": {"seeds": 20, "final_regret": 0.01}, "gp": {"seeds": 5, "final_regret": 0.02}},
            "paired": {"gp": [{"at": at, "win": win, "loss": loss} for at in (50, 100, 200)]},
        }

    summary = {
        "challenger": "cascade",
        "problems": {"llm_family_1": entry(4, 1), "llm_family_2": entry(1, 4)},
        "early_commitment": {
            "llm_family_1": {"window": 50, "samplers": {"cascade": _commitment(20, 1.0), "gp": _commitment(5, 0.8)}},
            # GPSampler not run on the second instance; rows before families were recorded give the basin only
            "llm_family_2": {"window": 50, "samplers": {"cascade": _commitment(20, 0.45, recorded=0)}},
        },
    }
    text = readme.section(summary, "llm_family")
    assert "| LoRA fine-tuning landscapes: 2 x 20 seeds | `gp` | 5/5, p = 1 |" in text
    assert "| `cascade` | 2 | 40 | 29 of 40 (72%) | 10 of 20 (50%) |" in text  # 20 + 9 of 20 + 20
    assert "| `gp` | 1 | 5 | 4 of 5 (80%) | 2 of 5 (40%) |" in text
    # llm_family_2 is a trap instance of the generator, its best family 1.1 decades from the runner-up, and
    # llm_family_1 is not a trap: the basin counts apart
    assert (
        "| sampler | end in the best family's basin: trap instances, the best family's rate 1 decade or more from "
        "the runner-up's (1) | the other trap instances (0) | the instances that are not traps (1) |"
    ) in text
    assert "| `cascade` | 9 of 20 (45%) | — | 20 of 20 (100%) |" in text
    assert "| `gp` | — | — | 4 of 5 (80%) |" in text
    del summary["early_commitment"]
    with pytest.raises(ValueError, match="no early-commitment section"):
        readme.section(summary, "llm_family")


# ---------------------------------------------------------------------------------------------------------------
# The committed pages against the committed rows.


@functools.cache
def _committed_summary(suite: str) -> dict:
    """The suite's summary as its committed rows make it now, and a check that the committed report is that one."""
    from benchmarks import warm_start
    from benchmarks.report import report_texts
    from benchmarks.runner import RESULTS_DIR

    if suite == warm_start.SUITE:  # not a runner suite: its own protocol, report and summary
        summary = warm_start.summarise(warm_start.load(RESULTS_DIR))
        committed = (RESULTS_DIR / suite / "report" / "REPORT.md").read_text()
        assert warm_start.markdown(summary) == committed, "stale: python -m benchmarks.warm_start report"
        return json.loads(json.dumps(summary, default=float))
    texts = report_texts(suite)
    # The formatted report, not summary.json's full-precision floats, which a newer SciPy could move in the last digits.
    committed = (RESULTS_DIR / suite / "report" / "REPORT.md").read_text()
    assert texts["REPORT.md"] == committed, (
        f"{suite}/report/REPORT.md is stale: python -m benchmarks report --suite {suite}"
    )
    return json.loads(texts["summary.json"])


@pytest.mark.parametrize("page", readme.pages())
def test_each_page_holds_exactly_its_registered_blocks(page):
    readme.check_page(page, (readme.ROOT / page).read_text())


@pytest.mark.slow  # re-makes the committed reports from their rows
@pytest.mark.parametrize("name", list(readme.BLOCKS))
def test_the_committed_block_is_what_the_committed_rows_make(name):
    """A report written before some rows changed (the timing suite's, say) or a hand-edited figure fails here."""
    block = readme.BLOCKS[name]
    summary = _committed_summary(block.suite)
    assert readme.stale_blocks(readme.ROOT, {block.suite: summary}, [name]) == [], (
        f"{block.page}'s {name} block is stale: python -m benchmarks.readme --suite {block.suite}"
    )


@pytest.mark.slow
def test_a_one_digit_hand_edit_of_a_committed_table_is_caught(tmp_path):
    """The freshness check compares every character: change one digit of the README's table and it fails."""
    block = readme.BLOCKS["overview"]
    text = (readme.ROOT / block.page).read_text()
    begin, end = readme.markers("overview")
    head, rest = text.split(begin, 1)
    body, tail = rest.split(end, 1)
    table_start = body.index("|---|")
    digit = re.search(r"\d", body[table_start:])
    assert digit, "the README's overview block has no table figure"
    at = table_start + digit.start()
    edited = body[:at] + str((int(body[at]) + 1) % 10) + body[at + 1 :]
    (tmp_path / "README.md").write_text(head + begin + edited + end + tail)
    assert readme.stale_blocks(tmp_path, {block.suite: _committed_summary(block.suite)}, ["overview"]) == [
        "README.md: overview"
    ]


def test_small_budget_block_counts_the_leaders_at_each_budget_and_pools_the_pairs():
    def cell(regret):
        return {"seeds": 20, "final_regret": regret[-1], "median_regret": dict(zip(("10", "25"), regret))}

    def entry(cascade, tpe, win, loss):
        pairs = [{"at": 10, "win": win, "loss": loss}, {"at": 25, "win": loss, "loss": win}]
        return {"samplers": {"cascade": cell(cascade), "tpe_default": cell(tpe)}, "paired": {"tpe_default": pairs}}

    summary = {
        "challenger": "cascade",
        "problems": {
            "llm_trainer_1": entry((0.3, 0.1), (0.2, 0.2), 4, 16),
            "llm_trainer_2": entry((0.5, 0.3), (0.4, 0.1), 5, 15),
        },
    }
    text = readme.section(summary, "llm_trainer")
    # @10 TPE leads on both, @25 one each; the budgets the rows lack are zeros, not a crash
    assert "| `cascade` | 0 | 1 | 0 | 0 | 0 |" in text and "| `tpe_default` | 2 | 1 | 0 | 0 | 0 |" in text
    pooled = "| LoRA landscapes, eight categorical lists: 2 x 20 seeds | `tpe_default` | 9/31, p = 0.00068 | 31/9,"
    assert pooled in text and "| 1 / 1 |" in text  # final regret: lower on one problem, higher on the other
