"""``COMPARISON.md``: each variant of ``benchmarks/variants.py`` against the shipped cascade, paired by seed.

    python -m benchmarks.variants_comparison > benchmarks/results/variants/COMPARISON.md

The comparison is the one ``compare_revisions`` makes between two revisions (wins/losses of the variant per problem,
pooled per family with a two-sided sign test), on the held-out suite, on the published comparison's problems and on
the published LoRA landscapes.
It is valid only while the ``cascade`` rows are those of the code the variants subclass: after an adopted change
re-runs them, re-run the variants too (delete their rows).

Seeded studies come back value for value only on a machine with the same arithmetic: elsewhere they part after a
dozen trials, and the committed rows are then a second sample of the shipped sampler rather than its twin. So where
the variant ``shipped_rerun`` (nothing replaced) has rows, every variant is also compared with those: the shipped
sampler re-run where the variants ran, a true pairing for the variants run on that machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from benchmarks.compare_revisions import checkpoint_cells
from benchmarks.compare_revisions import compare
from benchmarks.compare_revisions import current_rows
from benchmarks.compare_revisions import pooled_counts
from benchmarks.compare_revisions import pooled_table
from benchmarks.report import early_commitment
from benchmarks.runner import RESULTS_DIR
from benchmarks.variants import VARIANTS


# (suite of the variants' rows, suite of the shipped cascade's rows they are paired with, what it is called)
PAIRINGS = (
    ("variants", "heldout", "held-out suite"),
    ("variants_published", "full", "published comparison (full suite)"),
    ("variants_llm_family", "llm_family", "published LoRA landscapes (llm_family suite)"),
)


def comparison(results: Path) -> str:
    """Markdown: each variant's rows against the shipped cascade's, paired by seed, on the held-out suite and, where
    they were run, on the published comparison's problems (there also per problem: wins/losses/ties, Wilcoxon p,
    medians of the shipped -> the variant's rows)."""
    lines = [
        "# Variants of the cascade tried and not adopted",
        "",
        "Each variant against the shipped cascade, paired by seed (noise-free value of the incumbent; studies where "
        "the variant is better / worse; two-sided sign test), on the held-out suite (`python -m benchmarks run "
        "--suite variants`), on the published comparison's problems (`--suite variants_published`) and on the "
        "published LoRA landscapes (`--suite variants_llm_family`). Written by "
        "`python -m benchmarks.variants_comparison`.",
        "",
    ]
    rows = {}
    for variant_suite, shipped_suite, _ in PAIRINGS:
        shipped = {key: r for key, r in current_rows(shipped_suite, results).items() if key[1] == "cascade"}
        rows[variant_suite] = (shipped, current_rows(variant_suite, results))
    for name, variant in VARIANTS.items():
        lines += [f"## `cascade_{name}`", "", variant.summary, ""]
        for variant_suite, _, title in PAIRINGS:
            shipped, variant_rows = rows[variant_suite]
            lines += _paired_block(shipped, _rows_of(variant_rows, name), f"On the {title}", f"cascade_{name}")
            rerun = _rows_of(variant_rows, RERUN)
            if rerun and name != RERUN:
                lines += _paired_block(
                    rerun,
                    _rows_of(variant_rows, name),
                    f"Against `cascade_{RERUN}` on the {title} (the shipped sampler re-run where the variants ran; a "
                    "paired comparison where the variant's rows were made on that machine too, its first trials "
                    "then identical)",
                    f"cascade_{name}",
                )
    return "\n".join(lines)


RERUN = "shipped_rerun"  # the variant that replaces nothing: the shipped sampler re-run on the variants' machine


def _rows_of(variant_rows: dict, name: str) -> dict:
    """Variant ``name``'s rows, keyed as the shipped cascade's (``(problem, "cascade")``) so that they pair by seed."""
    return {(problem, "cascade"): r for (problem, sampler), r in variant_rows.items() if sampler == f"cascade_{name}"}


def _paired_block(shipped: dict, after: dict, title: str, sampler: str) -> list[str]:
    """Markdown lines: ``after`` (rows of ``sampler``) against ``shipped``, pooled, per family, per problem (few
    problems) and the early-commitment diagnostic; "not run" where they share no cell."""
    cells = [dict(c, sampler=sampler) for c in compare(shipped, after)]
    pooled = pooled_counts(cells)
    if not pooled:
        return [f"{title}: not run.", ""]
    lines = [f"{title}: {len(cells)} problems, {sum(c['studies'] for c in cells)} studies.", ""]
    lines += pooled_table(pooled, ("variant",)) + [""]
    lines += pooled_table(pooled_counts(cells, by_family=True), ("variant", "family")) + [""]
    if len(cells) <= 12:  # few problems with many seeds: each problem's own paired test
        lines += [
            "| problem | studies | after 50 trials | after 100 trials | last trial |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {c['problem']} | {c['studies']} | " + " | ".join(checkpoint_cells(c)) + " |"
            for c in cells
            if c["changed"]
        ]
        lines += [""]
    return lines + commitment_table(shipped, after)


def commitment_table(shipped: dict, variant: dict) -> list[str]:
    """Markdown lines: on each problem whose rows record their trials' families, the report's early-commitment
    diagnostic of the shipped cascade's rows -> the variant's (studies ending in the best family's basin, studies
    whose last 50 trials are mostly on it, the median trial of the first tuned best-family trial); [] where none
    does. It says whether a variant's loss on a strategic problem is the high level leaving the best family or the
    low level not tuning it."""
    out: list[str] = []
    for key in sorted(set(shipped) & set(variant)):
        cells = early_commitment({"shipped": shipped[key], "variant": variant[key]})
        if cells is None or "committed_share" not in cells["samplers"]["variant"]:
            continue
        before, after = cells["samplers"]["shipped"], cells["samplers"]["variant"]
        basin, committed = (_change(before, after, f) for f in ("best_basin_share", "committed_share"))
        first_tuned = _change(before, after, "first_tuned_median", as_share=False)
        out.append(f"| {key[0]} | {cells['best_family']} | {basin} | {committed} | {first_tuned} |")
    if not out:
        return []
    head = [
        "Early commitment, shipped -> variant (the report's diagnostic: studies ending in the best family's basin,"
        " studies whose last 50 trials are mostly on the best family, median trial of the first tuned best-family"
        " trial):",
        "",
        "| problem | best family | in the best basin | last 50 mostly on it | first tuned trial (median) |",
        "|---|---|---|---|---|",
    ]
    return head + out + [""]


def _change(before: dict, after: dict, field: str, as_share: bool = True) -> str:
    a, b = before.get(field), after.get(field)
    if a is None or b is None:
        return "—"
    return f"{a:.0%} -> {b:.0%}" if as_share else f"{_trial(a)} -> {_trial(b)}"


def _trial(x: float) -> str:
    return "half or more never" if x == float("inf") else f"{x:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.variants_comparison", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    sys.stdout.write(comparison(args.results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
