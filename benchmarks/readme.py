"""Write the README's performance section from the committed benchmark report.

The README never carries a figure typed by hand: ``python -m benchmarks.readme`` replaces the text
between ``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->`` with the overview table of
``benchmarks/results/full/report/summary.json`` (written by ``python -m benchmarks report``) and
the sampler-overhead table of the timing suite; ``--suite parallel`` fills the block between
``<!-- benchmarks:parallel:begin -->`` and ``<!-- benchmarks:parallel:end -->`` with the 1-vs-4-worker table, and
``--suite ablation`` the ablation table (the full cascade against each ablation, paired over seeds), ``--suite heldout``
the held-out table (the cascade against each baseline, pooled over each family of held-out problems).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.report import _fmt
from benchmarks.report import overview_table
from benchmarks.report import problem_family
from benchmarks.report import sign_test
from benchmarks.runner import RESULTS_DIR

BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


def markers(suite: str) -> tuple[str, str]:
    """The full suite owns the plain markers; every other suite has its own block."""
    if suite == "full":
        return BEGIN, END
    return f"<!-- benchmarks:{suite}:begin -->", f"<!-- benchmarks:{suite}:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"


ABLATION_COLUMNS = {
    "cascade_uniform_high_level": "uniform high level",
    "cascade_no_low_level_learning": "no low-level learning",
    "cascade_flat": "one flat agent",
}


def ablation_section(summary: dict) -> str:
    """Median regret at the last trial of the full cascade and of each ablation, with the paired test against it."""
    lines = ["| problem | full cascade | " + " | ".join(ABLATION_COLUMNS.values()) + " |",
             "|---|---|" + "---|" * len(ABLATION_COLUMNS)]
    seeds = set()
    for problem, entry in summary["problems"].items():
        full = entry["samplers"]["cascade"]
        seeds.add(full["seeds"])
        cells = [_fmt(full["final_regret"])]
        for sampler in ABLATION_COLUMNS:
            info = entry["samplers"].get(sampler)
            if info is None:
                cells.append("—")
                continue
            last = max(entry["paired"][sampler], key=lambda t: t["at"])
            cells.append(f"{_fmt(info['final_regret'])} ({last['win']}/{last['loss']}, p = {last['p']:.2g})")
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    lines += ["", f"(median normalised regret at the last trial over {', '.join(map(str, sorted(seeds)))} seeds; in "
              "brackets the full cascade's wins/losses against that ablation and the two-sided paired Wilcoxon p.)", ""]
    return "\n".join(lines)


HELDOUT_FAMILIES = {"mixint": "bbob-mixint (22 functions, d = 10)", "yahpo": "YAHPO-SO instances",
                    "synthetic": "synthetic mixed spaces"}


def heldout_section(summary: dict) -> str:
    """The challenger against each baseline, pooled over the problems of each family of the held-out suite.

    Few seeds per problem and many problems: per problem the paired tests say little, pooled they do. Each cell adds
    up the per-problem paired wins and losses (seed by seed) and gives a two-sided sign test of the sum; the last
    column counts the problems where the challenger's median final regret is lower / higher.
    """
    challenger = summary["challenger"]
    families: dict[str, list[dict]] = {}
    for problem, entry in summary["problems"].items():
        families.setdefault(problem_family(problem), []).append(entry)
    baselines = sorted({s for entries in families.values() for e in entries for s in e["paired"]})
    lines = [f"| problems | baseline | {challenger} W/L @50 | @100 | @200 | problems with lower / higher median final "
             "regret |", "|---|---|---|---|---|---|"]
    for family, entries in families.items():
        seeds = sorted({e["samplers"][challenger]["seeds"] for e in entries})
        for baseline in baselines:
            cells = []
            for at in (50, 100, 200):
                win = sum(t["win"] for e in entries for t in e["paired"].get(baseline, []) if t["at"] == at)
                loss = sum(t["loss"] for e in entries for t in e["paired"].get(baseline, []) if t["at"] == at)
                cells.append(f"{win}/{loss}, p = {sign_test(win, loss):.2g}")
            mine = [e["samplers"][challenger]["final_regret"] for e in entries if baseline in e["samplers"]]
            theirs = [e["samplers"][baseline]["final_regret"] for e in entries if baseline in e["samplers"]]
            lower = sum(a < b - 1e-12 for a, b in zip(mine, theirs))
            higher = sum(a > b + 1e-12 for a, b in zip(mine, theirs))
            name = f"{HELDOUT_FAMILIES.get(family, family)}: {len(entries)} x {'/'.join(map(str, seeds))} seeds"
            lines.append(f"| {name} | `{baseline}` | " + " | ".join(cells) + f" | {lower} / {higher} |")
    lines += ["", "(W/L: studies where the cascade's incumbent is better / worse than the baseline's with the same "
              "seed, added up over the family's problems; p: two-sided sign test of those counts.)", ""]
    return "\n".join(lines)


def section(summary: dict, suite: str) -> str:
    if suite == "ablation":
        return ablation_section(summary)
    if suite == "heldout":
        return heldout_section(summary)
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
            + "`, around trial 100 and trial 1,000 (per study the mean over trials 81-120 and 951-1,000; the median "
            "over each sampler's studies, `studies` of them):",
            "",
            "| sampler | studies | s/trial @100 | s/trial @1000 |",
            "|---|---|---|---|",
        ]
        for sampler, t in timing.items():
            lines.append(f"| {sampler} | {t.get('studies', 1)} | {_fmt(t['at_100'])} | {_fmt(t['at_1000'])} |")
        lines.append("")
    return "\n".join(lines)


def with_section(text: str, summary: dict, suite: str) -> str:
    """``text`` (the README) with the suite's block between its markers rewritten from ``summary``."""
    begin, end = markers(suite)
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + section(summary, suite) + "\n" + end + tail


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
    args.readme.write_text(with_section(text, summary, args.suite))
    print(f"wrote the benchmark section of {args.readme}")


if __name__ == "__main__":
    main()
