"""benchmarks.compare_revisions: rows at an earlier git revision paired with the current ones."""

import json
import subprocess

import pytest

from benchmarks import rows as row_files
from benchmarks.compare_revisions import compare
from benchmarks.compare_revisions import current_rows
from benchmarks.compare_revisions import markdown
from benchmarks.compare_revisions import pooled_counts
from benchmarks.compare_revisions import rows_at_revision
from benchmarks.compare_revisions import size_of_changes


def _row(seed, curve):
    return {"seed": seed, "values": curve, "true_values": curve, "incumbent_true": curve, "optimum": None}


def _write_plain(path, rows):
    """Rows as the revisions before the gzip'd format committed them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    results = tmp_path / "results"
    flat = [1.0] * 120
    _write_plain(
        results / "s" / "p" / "cascade.jsonl", [_row(seed, [2.0] * 60 + [1.0 + seed] * 60) for seed in range(6)]
    )
    _write_plain(results / "s" / "p" / "tpe.jsonl", [_row(seed, flat) for seed in range(6)])
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "before")
    # the re-run, in the harness's format (the plain file goes): five seeds better at the end, one worse
    row_files.write(
        row_files.path(results, "s", "p", "cascade"),
        [_row(seed, [2.0] * 60 + [0.5 + seed if seed < 5 else 9.0] * 60) for seed in range(6)],
    )
    row_files.write(row_files.path(results, "s", "p", "tpe"), [_row(seed, flat) for seed in range(6)])
    return results


def test_changed_cells_are_paired_by_seed_and_unchanged_ones_only_counted(repo):
    assert sorted(p.name for p in (repo / "s" / "p").iterdir()) == ["cascade.jsonl.gz", "tpe.jsonl.gz"]
    cells = compare(rows_at_revision("HEAD", "s", repo), current_rows("s", repo))
    by_sampler = {c["sampler"]: c for c in cells}
    assert by_sampler["tpe"]["changed"] is False
    last = by_sampler["cascade"]["last"]
    assert (last["better"], last["worse"], last["tied"]) == (5, 1, 0)
    assert by_sampler["cascade"]["50"]["tied"] == 6  # identical before trial 61
    text = markdown(cells, "HEAD", "s")
    assert "| p | cascade | 6 |" in text and "5 studies better now, 1 worse" in text
    assert "Unchanged cells (identical rows at both revisions): 1." in text


def test_an_unknown_revision_is_a_clear_error(repo):
    with pytest.raises(SystemExit, match="git cannot read"):
        rows_at_revision("no-such-revision", "s", repo)


def test_pooled_counts_add_the_problems_of_each_sampler_and_sign_test_them():
    def cell(problem, sampler, better, worse):
        counts = {"better": better, "worse": worse, "tied": 0}
        return {"problem": problem, "sampler": sampler, "changed": True, "50": counts, "100": counts, "last": counts}

    cells = [
        cell("a", "cascade", 3, 0),
        cell("b", "cascade", 5, 0),
        cell("a", "flat", 1, 1),
        {"problem": "a", "sampler": "tpe", "changed": False},
    ]
    pooled = pooled_counts(cells)
    assert set(pooled) == {"cascade", "flat"}  # unchanged cells are not pooled
    assert pooled["cascade"]["problems"] == 2
    assert (pooled["cascade"]["last"]["better"], pooled["cascade"]["last"]["worse"]) == (8, 0)
    assert pooled["cascade"]["last"]["p"] == pytest.approx(2 * 0.5**8)  # two-sided sign test, 8 of 8
    assert pooled["flat"]["last"]["p"] == pytest.approx(1.0)


def test_pooled_counts_by_family_split_a_sampler_by_the_first_word_of_the_problem():
    def cell(problem, better, worse):
        counts = {"better": better, "worse": worse, "tied": 0, "p": 1.0, "median_before": 1.0, "median_after": 1.0}
        return {
            "problem": problem,
            "sampler": "cascade",
            "changed": True,
            "studies": better + worse,
            "regret_last": {"before": [0.01] * (better + worse), "after": [0.01] * (better + worse)},
            "50": counts,
            "100": counts,
            "last": counts,
        }

    cells = [cell("mixint_f1_d10", 3, 0), cell("mixint_f2_d10", 2, 1), cell("yahpo_xgboost_12", 0, 4)]
    pooled = pooled_counts(cells, by_family=True)
    assert pooled[("cascade", "mixint")]["last"]["better"] == 5 and pooled[("cascade", "mixint")]["problems"] == 2
    assert pooled[("cascade", "yahpo")]["last"]["worse"] == 4
    text = markdown(cells, "HEAD", "s")
    assert "| cascade | mixint | 2 | 5/1, p = 0.22 |" in text and "| cascade | 3 | 5/5, p = 1 |" in text


def test_a_revision_that_committed_gzipped_rows_reads_as_the_working_tree(repo):
    _git(repo.parent, "add", "-A")
    _git(repo.parent, "commit", "-q", "-m", "the re-run, gzipped")
    at_head = rows_at_revision("HEAD", "s", repo)
    assert at_head == current_rows("s", repo) and len(at_head[("p", "cascade")]) == 6
    assert not any(c["changed"] for c in compare(at_head, current_rows("s", repo)))


def test_the_size_of_the_changes_separates_studies_left_far_from_the_optimum_from_refinement():
    """A sign test counts a study that ended far from the optimum as one that lost a hair; the size table does not."""

    def rows(finals):
        return [dict(_row(seed, [1.0] * 10 + [v]), optimum=0.0) for seed, v in enumerate(finals)]

    before = {("p_1", "cascade"): rows([0.5, 0.3, 0.01, 0.01, 0.02, 0.02])}
    after = {("p_1", "cascade"): rows([0.01, 0.3, 0.02, 0.02, 0.03, 0.01])}
    cells = compare(before, after)
    assert (cells[0]["last"]["better"], cells[0]["last"]["worse"]) == (2, 3)  # the sign test: worse now
    size = size_of_changes(cells)[("cascade", "p")]
    assert (size["far_before"], size["far_after"]) == (2, 1)  # but one study fewer left far from the optimum
    assert size["near"] == 4 and (size["near_better"], size["near_worse"]) == (1, 3)
    assert size["near_median_before"] == pytest.approx(0.015) and size["near_median_after"] == pytest.approx(0.02)
    assert "| cascade | p | 6 | 2 -> 1 | 4 | 0.015 -> 0.02 | 1/3 |" in markdown(cells, "HEAD", "s")
