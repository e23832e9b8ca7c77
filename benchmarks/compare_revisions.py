"""Pair a suite's result rows at an earlier git revision with the rows in the working tree.

When a change alters a sampler's arithmetic without meaning to change the algorithm (the critic's posterior moved from
torch to NumPy, whose results differ in the last bits), every seeded study of that sampler takes another path and the
suite is re-run. This says whether the re-run rows are the same sampler or a better or worse one: for each (problem,
sampler) whose rows changed, the studies are paired by seed and the noise-free value of the incumbent is compared
after 50 and 100 trials and at the last trial (wins and losses of the current rows, two-sided paired Wilcoxon)::

    python -m benchmarks.compare_revisions 0c2ff04 --suite full > benchmarks/results/full/revision_comparison.md

Cells whose rows are identical at both revisions (the baselines a re-run did not touch) are counted, not listed.
A sign test counts a study that lost a millionth of the range as much as one that ended in the wrong family, so the
report also says how large the changes are at the last trial (:func:`size_of_changes`): the studies left far from the
optimum on each side, and the median regret of the others.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

from benchmarks.report import paired_test
from benchmarks.report import problem_family
from benchmarks.report import regret_curves
from benchmarks.report import sign_test
from benchmarks.runner import RESULTS_DIR
from benchmarks.runner import SHARED_CELLS
from benchmarks.runner import suite_rows


def rows_at_revision(revision: str, suite: str, results: Path = RESULTS_DIR) -> dict[tuple[str, str], list[dict]]:
    """``(problem, sampler) -> rows`` of ``results/<suite>`` as committed at ``revision``.

    The results folder of that revision is unpacked (``git archive``) into a temporary folder and read there by
    :func:`current_rows`, the reader of the working tree: one reader for both sides, whatever format the revision
    committed its rows in (:mod:`benchmarks.rows` reads the plain JSON lines of older revisions too).
    """
    root = Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=results, check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    folder = Path(results).resolve().relative_to(root)

    def committed(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", "ls-tree", "--name-only", revision, f"{(folder / name).as_posix()}/"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )

    listing = committed(suite)
    if listing.returncode != 0 or not listing.stdout.strip():
        raise SystemExit(
            f"git cannot read {folder / suite} at {revision!r}: "
            f"{listing.stderr.strip() or 'no such folder at that revision'}"
        )
    # the suite's folder, and those of the suites that hold its shared cells (benchmarks.runner.SHARED_CELLS)
    sources = sorted({source for (s, _), source in SHARED_CELLS.items() if s == suite})
    present = [suite, *(f for f in sources if committed(f).stdout.strip())]
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "--", *((folder / f).as_posix() for f in present)],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise SystemExit(f"git cannot read {folder} at {revision!r}: {archive.stderr.decode().strip()}")
    with tempfile.TemporaryDirectory(prefix="compare-revisions-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        return current_rows(suite, Path(tmp) / folder)


def current_rows(suite: str, results: Path = RESULTS_DIR) -> dict[tuple[str, str], list[dict]]:
    """``(problem, sampler) -> rows`` of the finished studies of ``results/<suite>``."""
    return {
        (problem, sampler): found
        for (problem, sampler, error), found in suite_rows(results, suite).items()
        if not error
    }


def compare(before: dict[tuple[str, str], list[dict]], after: dict[tuple[str, str], list[dict]]) -> list[dict]:
    """One entry per (problem, sampler) present at both revisions whose paired rows differ.

    The statistics are the report's own: both revisions' incumbents normalised together
    (:func:`benchmarks.report.regret_curves`), then :func:`benchmarks.report.paired_test` by seed.
    """
    cells = []
    for key in sorted(set(before) & set(after)):
        old = {r["seed"]: r for r in before[key] if "error" not in r}
        new = {r["seed"]: r for r in after[key] if "error" not in r}
        seeds = sorted(set(old) & set(new))
        if all(old[s]["values"] == new[s]["values"] for s in seeds):
            cells.append({"problem": key[0], "sampler": key[1], "studies": len(seeds), "changed": False})
            continue
        old_rows, new_rows = [old[s] for s in seeds], [new[s] for s in seeds]
        curves, _ = regret_curves({"before": old_rows, "after": new_rows})
        last = curves["after"].shape[1]
        cell: dict = {
            "problem": key[0],
            "sampler": key[1],
            "studies": len(seeds),
            "changed": True,
            "regret_last": {"before": curves["before"][:, -1].tolist(), "after": curves["after"][:, -1].tolist()},
        }
        for name, at in (("50", 50), ("100", 100), ("last", last)):
            test = paired_test(new_rows, old_rows, curves["after"], curves["before"], min(at, last))
            assert test is not None  # same seeds on both sides
            cell[name] = {
                "better": test["win"],
                "worse": test["loss"],
                "tied": test["tie"],
                "p": test["p"],
                "median_before": float(np.median([r["incumbent_true"][min(at, last) - 1] for r in old_rows])),
                "median_after": float(np.median([r["incumbent_true"][min(at, last) - 1] for r in new_rows])),
            }
        cells.append(cell)
    return cells


def markdown(cells: list[dict], revision: str, suite: str) -> str:
    lines = [
        f"# Suite `{suite}`: rows now against the rows at `{revision}`",
        "",
        "Paired by seed; noise-free value of the incumbent (lower is better); current rows' wins/losses/ties and "
        "the two-sided paired Wilcoxon p; medians before -> after.",
        "",
        "| problem | sampler | studies | after 50 trials | after 100 trials | last trial |",
        "|---|---|---|---|---|---|",
    ]
    wins = losses = 0
    for c in cells:
        if not c["changed"]:
            continue
        wins, losses = wins + c["last"]["better"], losses + c["last"]["worse"]
        lines.append(f"| {c['problem']} | {c['sampler']} | {c['studies']} | " + " | ".join(checkpoint_cells(c)) + " |")
    same = [c for c in cells if not c["changed"]]
    lines += [
        "",
        f"At the last trial over every changed cell: {wins} studies better now, {losses} worse.",
        f"Unchanged cells (identical rows at both revisions): {len(same)}.",
    ]
    pooled = pooled_counts(cells)
    if pooled:
        lines += [
            "",
            "Pooled over the problems, per sampler (studies better/worse now, two-sided sign test; a suite of "
            "many problems with few seeds each is read here, not per problem):",
            "",
        ]
        lines += pooled_table(pooled, ("sampler",))
        by_family = pooled_counts(cells, by_family=True)
        if len({family for _, family in by_family}) > 1:
            lines += ["", "The same, per family of problems (the first word of the problem's name):", ""]
            lines += pooled_table(by_family, ("sampler", "family"))
        lines += ["", *size_table(size_of_changes(cells))]
    return "\n".join(lines) + "\n"


FAR = 0.05
"""Normalised regret above which a study counts as left far from the optimum: 5% of the way from the optimum to a
typical random configuration, many times the refinement differences a re-run moves, and below the gap between a
strategy family's optimum and the best family's on the problems where the family matters."""


def size_of_changes(cells: list[dict]) -> dict:
    """Per sampler and problem family, the changed cells' studies at the last trial: how many end far from the
    optimum (normalised regret above :data:`FAR`) before and after, and, among the studies near it on both sides,
    the median normalised regret before and after and how many are better / worse."""
    out: dict = {}
    for c in cells:
        if not c["changed"]:
            continue
        entry = out.setdefault((c["sampler"], problem_family(c["problem"])), {"before": [], "after": []})
        entry["before"] += c["regret_last"]["before"]
        entry["after"] += c["regret_last"]["after"]
    sizes = {}
    for key, entry in out.items():
        before, after = np.asarray(entry["before"]), np.asarray(entry["after"])
        near = (before <= FAR) & (after <= FAR)
        sizes[key] = {
            "studies": len(before),
            "far_before": int((before > FAR).sum()),
            "far_after": int((after > FAR).sum()),
            "near": int(near.sum()),
            "near_median_before": float(np.median(before[near])) if near.any() else None,
            "near_median_after": float(np.median(after[near])) if near.any() else None,
            "near_better": int((after[near] < before[near]).sum()),
            "near_worse": int((after[near] > before[near]).sum()),
        }
    return sizes


def size_table(sizes: dict) -> list[str]:
    lines = [
        f"How large the changes are at the last trial, in normalised regret (0 = the optimum, 1 = a typical random "
        f"configuration): studies left far from the optimum (above {FAR}) before -> after, and the studies near it "
        "on both sides (their median regret before -> after; better/worse now):",
        "",
        "| sampler | family | studies | far from the optimum | near on both sides | their median | better/worse |",
        "|---|---|---|---|---|---|---|",
    ]
    for (sampler, family), e in sizes.items():
        median = f"{e['near_median_before']:.3g} -> {e['near_median_after']:.3g}" if e["near"] else "-"
        lines.append(
            f"| {sampler} | {family} | {e['studies']} | {e['far_before']} -> {e['far_after']} | {e['near']} | "
            f"{median} | {e['near_better']}/{e['near_worse']} |"
        )
    return lines


def checkpoint_cells(cell: dict) -> list[str]:
    """A changed cell's paired result after 50 and 100 trials and at the last trial, one table cell each:
    better/worse/tied, the Wilcoxon p and the medians before -> after."""
    return [
        f"{cell[k]['better']}/{cell[k]['worse']}/{cell[k]['tied']}, p = {cell[k]['p']:.2g} "
        f"({cell[k]['median_before']:.4g} -> {cell[k]['median_after']:.4g})"
        for k in ("50", "100", "last")
    ]


def pooled_table(pooled: dict, key_columns: tuple[str, ...]) -> list[str]:
    lines = [
        "| " + " | ".join(key_columns) + " | problems | after 50 trials | after 100 trials | last trial |",
        "|" + "---|" * (len(key_columns) + 4),
    ]
    for key, entry in pooled.items():
        name = " | ".join(key) if isinstance(key, tuple) else key
        parts = [f"{entry[k]['better']}/{entry[k]['worse']}, p = {entry[k]['p']:.2g}" for k in ("50", "100", "last")]
        lines.append(f"| {name} | {entry['problems']} | " + " | ".join(parts) + " |")
    return lines


def pooled_counts(cells: list[dict], by_family: bool = False) -> dict:
    """Per sampler (or per sampler and problem family), the changed cells' wins and losses added up, with a
    two-sided sign test of them."""
    out: dict = {}
    for c in cells:
        if not c["changed"]:
            continue
        key = (c["sampler"], problem_family(c["problem"])) if by_family else c["sampler"]
        entry = out.setdefault(key, {"problems": 0, **{k: {"better": 0, "worse": 0} for k in ("50", "100", "last")}})
        entry["problems"] += 1
        for k in ("50", "100", "last"):
            entry[k]["better"] += c[k]["better"]
            entry[k]["worse"] += c[k]["worse"]
    for entry in out.values():
        for k in ("50", "100", "last"):
            entry[k]["p"] = sign_test(entry[k]["better"], entry[k]["worse"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_revisions", description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the git revision whose committed rows are the 'before' side")
    parser.add_argument("--suite", default="full")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    cells = compare(rows_at_revision(args.revision, args.suite, args.results), current_rows(args.suite, args.results))
    sys.stdout.write(markdown(cells, args.revision, args.suite))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
