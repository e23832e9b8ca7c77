"""Write the README's performance section from the committed benchmark report.

The README never carries a figure typed by hand: ``python -m benchmarks.readme`` replaces the text
between ``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->`` with the overview table of
``benchmarks/results/full/report/summary.json`` (written by ``python -m benchmarks report``) and
the sampler-overhead table of the timing suite; ``--suite parallel`` fills the block between
``<!-- benchmarks:parallel:begin -->`` and ``<!-- benchmarks:parallel:end -->`` with the 1-vs-4-worker table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.report import _fmt
from benchmarks.report import overview_table
from benchmarks.runner import RESULTS_DIR

BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


def markers(suite: str) -> tuple[str, str]:
    """The full suite owns the plain markers; every other suite has its own block."""
    if suite == "full":
        return BEGIN, END
    return f"<!-- benchmarks:{suite}:begin -->", f"<!-- benchmarks:{suite}:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"


def section(summary: dict, suite: str) -> str:
    lines = overview_table(summary)[2:]  # the README has its own heading
    problems = summary["problems"]
    seeds = sorted({(p, s, e["seeds"], e["trials"]) for p, ent in problems.items() for s, e in ent["samplers"].items()})
    counts = sorted({(n, t) for _, _, n, t in seeds})
    lines += [
        "Seeds x trials behind these medians: "
        + ", ".join(f"{n} x {t}" for n, t in counts)
        + f" (per problem and sampler in `benchmarks/results/{suite}/report/REPORT.md`).",
        "",
    ]
    timing = summary.get("timing") or {}
    if timing and suite == "full":
        lines += [
            "Sampler seconds per trial (ask + suggest + tell, objective excluded) on `"
            + next(iter(timing.values()))["problem"]
            + "`, one study per sampler, around trial 100 and trial 1,000:",
            "",
            "| sampler | s/trial @100 | s/trial @1000 |",
            "|---|---|---|",
        ]
        for sampler, t in timing.items():
            lines.append(f"| {sampler} | {_fmt(t['at_100'])} | {_fmt(t['at_1000'])} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="full")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args()
    summary = json.loads((args.results / args.suite / "report" / "summary.json").read_text())
    text = args.readme.read_text()
    begin, end = markers(args.suite)
    if begin not in text or end not in text:
        raise SystemExit(f"{args.readme} has no {begin} ... {end} block to fill")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    args.readme.write_text(head + begin + "\n" + section(summary, args.suite) + "\n" + end + tail)
    print(f"wrote the benchmark section of {args.readme}")


if __name__ == "__main__":
    main()
