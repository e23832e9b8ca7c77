"""Write the benchmark tables of the README and of ``docs/`` from the committed benchmark reports.

No figure about how well the sampler does is typed by hand. Each table is a *block* between two markers,
``<!-- benchmarks:NAME:begin -->`` and ``<!-- benchmarks:NAME:end -->``, in the page that needs it, and
``python -m benchmarks.readme`` rewrites every block from its suite's ``benchmarks/results/<suite>/report/summary.json``
(written by ``python -m benchmarks report --suite <suite>``); ``--suite S`` rewrites only the blocks of suite ``S``;
``--check`` rewrites nothing and exits 1 naming the blocks that differ from what the summaries make.

Where the blocks are (``BLOCKS``): the README carries one short table for users (``overview``: per problem, who
leads at 50 trials and at the last trial, and the cascade's paired result against ``TPESampler()`` and
``GPSampler()``), written so that its losses read as plainly as its wins; ``docs/benchmarks.md`` carries every full
table (``full`` with the sampler-overhead table of the timing suite, ``heldout``, ``parallel``, ``ablation``,
``pretraining``). A page's blocks are exactly the ones registered for it: a block that is not registered, or a
registered one that is missing, is an error, so a table cannot quietly go stale by falling out of the registry.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
import json
from pathlib import Path
import re
import sys

from benchmarks.report import _fmt
from benchmarks.report import HAND
from benchmarks.report import overview_table
from benchmarks.report import problem_family
from benchmarks.report import sign_test
from benchmarks.runner import RESULTS_DIR


ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!-- benchmarks:([a-z0-9_]+):(begin|end) -->")


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of block ``name``."""
    return f"<!-- benchmarks:{name}:begin -->", f"<!-- benchmarks:{name}:end -->"


# ---------------------------------------------------------------------------------------------------------------
# The README's table for users.

# How a user would call the samplers the benchmarks name (see ``benchmarks/samplers.py``).
SAMPLER_CALLS = {
    "cascade": "`CascadeSampler()`",
    "tpe_default": "`TPESampler()`",
    "tpe_mv_group": "`TPESampler(group=True)`",
    "tpe_independent": "`TPESampler(multivariate=False)`",
    "gp": "`GPSampler()`",
    "cmaes_margin": "`CmaEsSampler(with_margin=True)`",
    "random": "`RandomSampler()`",
}

PROBLEM_KINDS = {
    "fcnet_naval": "FCNet naval (HPOLib table, MLP)",
    "fcnet_protein": "FCNet protein (HPOLib table, MLP)",
    "llm_smooth": "LLM fine-tuning landscape, weak optimizer x learning-rate interaction",
    "llm_strong": "LLM fine-tuning landscape, strong optimizer x learning-rate interaction",
    "mixint_f10_d10": "bbob-mixint f10 (ill-conditioned, integers, no categorical)",
    "mixint_f21_d10": "bbob-mixint f21 (multimodal, integers, no categorical)",
    "mlp_digits": "real torch MLP training on digits (8 seeds x 100 trials)",
    "yahpo_lcbench_167184": "YAHPO LCBench 167184 (surrogate)",
    "yahpo_xgboost_1501": "YAHPO rbv2_xgboost 1501 (conditional space, surrogate)",
    "yahpo_xgboost_40499": "YAHPO rbv2_xgboost 40499 (conditional, saturates)",
}

_SIGNIFICANT = 0.05


def _leaders(entry: dict, at: str | None) -> str:
    """The samplers with the lowest median regret at checkpoint ``at`` (``None``: the last trial), ties listed.

    Only the flat samplers a user could pick compete (the hand-conditioned TPE is an expert's reference that knows
    the answer's structure), and only those with every seed of the problem: a median over 2 seeds is not a lead.
    """
    most = max(info["seeds"] for info in entry["samplers"].values())
    values = {}
    for sampler, info in entry["samplers"].items():
        if sampler.endswith(HAND) or sampler not in SAMPLER_CALLS or info["seeds"] < most:
            continue
        value = info["final_regret"] if at is None else info["median_regret"].get(at)
        if value is not None:
            values[sampler] = value
    best = min(values.values())
    tied = [s for s, v in values.items() if v <= best + 1e-12 + 1e-9 * abs(best)]
    names = ", ".join(SAMPLER_CALLS[s] for s in tied)
    return f"{names} ({_fmt(best)})" if len(tied) == 1 else f"tie: {names} ({_fmt(best)})"


def _verdict(entry: dict, baseline: str) -> str:
    """The challenger against ``baseline`` at the last checkpoint, paired by seed: ahead, behind or level."""
    tests = entry["paired"].get(baseline)
    if not tests:
        return "—"
    last = max(tests, key=lambda t: t["at"])
    word = "level"
    if last["p"] < _SIGNIFICANT and last["win"] != last["loss"]:
        word = "**ahead**" if last["win"] > last["loss"] else "**behind**"
    return f"{word} {last['win']}/{last['loss']}, p = {last['p']:.2g}"


def user_overview_section(summary: dict) -> str:
    """Per problem: who leads early and late, and the cascade against Optuna's default TPE and its GP sampler."""
    lines = [
        "| problem | best median regret at 50 trials | best at the last trial | cascade vs `TPESampler()` "
        "| cascade vs `GPSampler()` |",
        "|---|---|---|---|---|",
    ]
    for problem, entry in summary["problems"].items():
        kind = PROBLEM_KINDS.get(problem)
        name = f"`{problem}`: {kind}" if kind else f"`{problem}`"
        lines.append(
            f"| {name} | {_leaders(entry, '50')} | {_leaders(entry, None)} | "
            f"{_verdict(entry, 'tpe_default')} | {_verdict(entry, 'gp')} |"
        )
    counts = sorted(
        {
            (
                e["samplers"][summary.get("challenger", "cascade")]["seeds"],
                e["samplers"][summary.get("challenger", "cascade")]["trials"],
            )
            for e in summary["problems"].values()
        }
    )
    lines += [
        "",
        "Median normalised regret over seeds (0 = the optimum, 1 = a typical random configuration; lower is "
        "better); the cascade's seeds x trials: "
        + ", ".join(f"{n} x {t}" for n, t in counts)
        + ". Best: among "
        + ", ".join(SAMPLER_CALLS.values())
        + " with every seed of the problem. Last two columns: the cascade's "
        "wins/losses against that sampler at the last trial, paired by seed, two-sided Wilcoxon p; **ahead** or "
        "**behind** at p < 0.05, level otherwise.",
        "",
    ]
    timing = summary.get("timing") or {}
    shown = [s for s in ("cascade", "tpe_default", "gp") if s in timing and timing[s].get("at_100") is not None]
    if shown:

        def cost(s: str) -> str:
            late = timing[s].get("at_1000")
            tail = f", {_fmt(late)} s at trial 1,000" if late is not None else ", not run to 1,000 trials"
            return f"{SAMPLER_CALLS[s]} {_fmt(timing[s]['at_100'])} s at trial 100{tail}"

        lines += [
            "Sampler time per trial (objective excluded) on `"
            + timing[shown[0]]["problem"]
            + "`: "
            + "; ".join(cost(s) for s in shown)
            + ".",
            "",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# The tables of docs/benchmarks.md.


def overview_section(summary: dict, suite: str, *, with_timing: bool = False) -> str:
    """The report's overview table (every sampler's median final regret, the reach of the best TPE setting's value),
    the seeds behind it and, for the full suite, the sampler-overhead table of the timing suite."""
    lines = overview_table(summary)[2:]  # the page has its own heading
    problems = summary["problems"]
    counts = sorted({(e["seeds"], e["trials"]) for ent in problems.values() for e in ent["samplers"].values()})
    lines += [
        "Seeds x trials behind these medians: "
        + ", ".join(f"{n} x {t}" for n, t in counts)
        + f" (per problem and sampler in `benchmarks/results/{suite}/report/REPORT.md`).",
        "",
    ]
    timing = summary.get("timing") or {}
    if timing and with_timing:
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


def _paired_cells(tests: list[dict], at_trials: tuple[int, ...], *, bold: bool = False) -> list[str]:
    """One cell per budget of a paired test (``benchmarks.report.paired_test``): ``W/L (p = ..)``, "—" where the test
    did not run, in bold at p < 0.05 when ``bold``."""
    by_at = {t["at"]: t for t in tests}
    cells = []
    for at in at_trials:
        if (t := by_at.get(at)) is None:
            cells.append("—")
            continue
        cell = f"{t['win']}/{t['loss']} (p = {t['p']:.2g})"
        cells.append(f"**{cell}**" if bold and t["p"] < 0.05 else cell)
    return cells


def constrained_section(summary: dict) -> str:
    """The constrained suite: feasibility and regret in the objective's unit, then the cascade paired by seed."""
    from benchmarks.report import feasibility_table

    lines = feasibility_table(summary["feasibility"])[2:]  # the page has its own heading
    challenger = summary.get("challenger", "cascade")
    lines += [
        f"`{challenger}` against each sampler, paired by seed (wins/losses on the best feasible value, two-sided "
        "Wilcoxon p):",
        "",
        "| problem | against | " + " | ".join(f"@{t}" for t in (25, 50, 100, 200)) + " |",
        "|---|---|---|---|---|---|",
    ]
    for problem, entry in summary["problems"].items():
        for sampler, tests in entry["paired"].items():
            cells = _paired_cells(tests, (25, 50, 100, 200))
            lines.append(f"| {problem} | {sampler} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def warm_start_section(summary: dict) -> str:
    """The warm-start benchmark's tables (``benchmarks/warm_start.py``), one subsection per pair."""
    from benchmarks.warm_start import pair_sections

    return "\n".join(pair_sections(summary, "###"))


ABLATION_COLUMNS = {
    "cascade_uniform_high_level": "uniform high level",
    "cascade_no_low_level_learning": "no low-level learning",
    "cascade_flat": "one flat agent",
    "cascade_no_tuning_share": "no tuning share",
    "cascade_share_every_head": "tuning share on every head",
}


def ablation_section(summary: dict) -> str:
    """Median regret at the last trial of the full cascade and of each ablation, with the paired test against it."""
    lines = [
        "| problem | full cascade | " + " | ".join(ABLATION_COLUMNS.values()) + " |",
        "|---|---|" + "---|" * len(ABLATION_COLUMNS),
    ]
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
    lines += [
        "",
        f"(median normalised regret at the last trial over {', '.join(map(str, sorted(seeds)))} seeds; in "
        "brackets the full cascade's wins/losses against that ablation and the two-sided paired Wilcoxon p.)",
        "",
    ]
    return "\n".join(lines)


HELDOUT_FAMILIES = {
    "mixint": "bbob-mixint (22 functions, d = 10)",
    "yahpo": "YAHPO-SO instances",
    "synthetic": "synthetic mixed spaces",
    "llm": "LoRA fine-tuning landscapes",
}


def heldout_section(
    summary: dict, at_trials: tuple[int, ...] = (50, 100, 200), family_names: dict[str, str] = HELDOUT_FAMILIES
) -> str:
    """The challenger against each baseline, pooled over the problems of each family of the held-out suite.

    Few seeds per problem and many problems: per problem the paired tests say little, pooled they do. Each cell adds
    up the per-problem paired wins and losses (seed by seed) and gives a two-sided sign test of the sum; the last
    column counts the problems where the challenger's median final regret is lower / higher.
    """
    challenger = summary["challenger"]
    missing = sorted(p for p, e in summary["problems"].items() if challenger not in e["samplers"])
    if missing:
        raise ValueError(
            f"the held-out report has no {challenger} rows for {', '.join(missing)}: run "
            f"`python -m benchmarks run --suite heldout --samplers {challenger}` (it resumes), then the report"
        )
    families: dict[str, list[dict]] = {}
    for problem, entry in summary["problems"].items():
        families.setdefault(problem_family(problem), []).append(entry)
    baselines = sorted({s for entries in families.values() for e in entries for s in e["paired"]})
    lines = [
        f"| problems | baseline | {challenger} W/L @{at_trials[0]} | "
        + "".join(f"@{t} | " for t in at_trials[1:])
        + "problems with lower / higher median final regret |",
        "|---|---|" + "---|" * len(at_trials) + "---|",
    ]
    for family, entries in families.items():
        seeds = sorted({e["samplers"][challenger]["seeds"] for e in entries})
        for baseline in baselines:
            cells = []
            for at in at_trials:
                win = sum(t["win"] for e in entries for t in e["paired"].get(baseline, []) if t["at"] == at)
                loss = sum(t["loss"] for e in entries for t in e["paired"].get(baseline, []) if t["at"] == at)
                cells.append(f"{win}/{loss}, p = {sign_test(win, loss):.2g}")
            mine = [e["samplers"][challenger]["final_regret"] for e in entries if baseline in e["samplers"]]
            theirs = [e["samplers"][baseline]["final_regret"] for e in entries if baseline in e["samplers"]]
            lower = sum(a < b - 1e-12 for a, b in zip(mine, theirs))
            higher = sum(a > b + 1e-12 for a, b in zip(mine, theirs))
            name = f"{family_names.get(family, family)}: {len(entries)} x {'/'.join(map(str, seeds))} seeds"
            lines.append(f"| {name} | `{baseline}` | " + " | ".join(cells) + f" | {lower} / {higher} |")
    lines += [
        "",
        "(W/L: studies where the cascade's incumbent is better / worse than the baseline's with the same "
        "seed, added up over the family's problems; p: two-sided sign test of those counts.)",
        "",
    ]
    return "\n".join(lines)


SMALL_BUDGET_TRIALS = (10, 25, 50, 100, 200)


def small_budget_section(summary: dict) -> str:
    """A suite of small-budget problems (``llm_trainer``, ``lora_table``): per sampler, on how many problems its
    median regret is the lowest at each budget, then the challenger against each baseline pooled over the problems
    (:func:`heldout_section`)."""
    problems = summary["problems"]
    samplers = list(dict.fromkeys(s for e in problems.values() for s in e["samplers"]))
    first = {s: [] for s in samplers}
    for t in SMALL_BUDGET_TRIALS:
        counts = dict.fromkeys(samplers, 0)
        for entry in problems.values():
            medians = {
                s: c["median_regret"][str(t)] for s, c in entry["samplers"].items() if str(t) in c["median_regret"]
            }
            if medians:
                counts[min(medians, key=medians.get)] += 1
        for s in samplers:
            first[s].append(counts[s])
    lines = [
        f"| sampler | lowest median regret on how many of the {len(problems)} problems: "
        + " | ".join(f"@{t}" for t in SMALL_BUDGET_TRIALS)
        + " |",
        "|---|" + "---|" * len(SMALL_BUDGET_TRIALS),
    ]
    lines += [f"| `{s}` | " + " | ".join(map(str, first[s])) + " |" for s in samplers]
    lines += ["", heldout_section(summary, SMALL_BUDGET_TRIALS, {"llm": "LoRA landscapes, eight categorical lists"})]
    return "\n".join(lines)


def lora_table_section(summary: dict) -> str:
    """The table of real LoRA runs (``benchmarks.problems.lora_table``): each sampler's median validation loss (the
    surrogate's, noise-free) of its incumbent at each budget, then the cascade against each sampler paired by seed."""
    challenger = summary.get("challenger", "cascade")
    (entry,) = summary["problems"].values()
    info = entry["normalisation"]
    scale = info["median_random"] - info["optimum"]
    lines = [
        "| sampler | seeds | median validation loss @" + " | @".join(map(str, SMALL_BUDGET_TRIALS)) + " |",
        "|---|---|" + "---|" * len(SMALL_BUDGET_TRIALS),
    ]
    for sampler, cell in entry["samplers"].items():
        regret = [cell["median_regret"].get(str(t)) for t in SMALL_BUDGET_TRIALS]
        loss = ["—" if r is None else f"{info['optimum'] + scale * r:.4f}" for r in regret]
        lines.append(f"| `{sampler}` | {cell['seeds']} | " + " | ".join(loss) + " |")
    lines += [
        "",
        f"`{challenger}` against each sampler, paired by seed (wins/losses, two-sided Wilcoxon p; **bold** at "
        "p < 0.05):",
        "",
        "| against | " + " | ".join(f"@{t}" for t in SMALL_BUDGET_TRIALS) + " |",
        "|---|" + "---|" * len(SMALL_BUDGET_TRIALS),
    ]
    for sampler, tests in entry["paired"].items():
        lines.append(f"| `{sampler}` | " + " | ".join(_paired_cells(tests, SMALL_BUDGET_TRIALS, bold=True)) + " |")
    lines.append("")
    return "\n".join(lines)


def _pooled_commitment(commitment: dict, instances: list[str]) -> dict[str, dict]:
    """Per sampler, summed over ``instances``: how many it ran on, its studies, those ending in the best family's
    basin, and (over the studies that record their families) those whose last trials are mostly on it."""
    pooled: dict[str, dict] = {}
    for name in instances:
        for sampler, cell in commitment[name]["samplers"].items():
            p = pooled.setdefault(sampler, {"instances": 0, "studies": 0, "basin": 0, "recorded": 0, "committed": 0})
            p["instances"] += 1
            p["studies"] += cell["studies"]
            p["basin"] += round(cell["best_basin_share"] * cell["studies"])
            if cell["recorded"]:
                p["recorded"] += cell["recorded"]
                p["committed"] += round(cell["committed_share"] * cell["recorded"])
    return pooled


FAR_DECADES = 1.0
"""A trap instance's best family counts as *far* when its best rate is this many decades or more from the runner-up's.
A cut read off the committed rows after they were made (the traps the cascade missed most), not one the generator
draws: it says where the misses lie, it was not chosen before looking."""


def _landscape_kind(problem: str) -> str | None:
    """``"far trap"``, ``"near trap"`` or ``"other"`` for a drawn LoRA landscape (``benchmarks.problems.llm_family``:
    in a trap the runner-up family is the easiest to tune first, the best one narrow and far from it); None for any
    other problem."""
    match = re.fullmatch(r"llm_family_(\d+)", problem)
    if match is None:
        return None
    from benchmarks.problems.llm_family import LandscapeSpec

    spec = LandscapeSpec.draw(int(match.group(1)))
    if not spec.trap:
        return "other"
    distance = abs(spec.family(spec.best).log10_lr - spec.family(spec.runner_up).log10_lr)
    return "far trap" if distance >= FAR_DECADES else "near trap"


def _share(count: int, total: int) -> str:
    return f"{count} of {total} ({count / total:.0%})" if total else "—"


def llm_family_section(summary: dict) -> str:
    """The drawn LoRA landscapes: the challenger against each baseline pooled over the instances (as
    :func:`heldout_section`), and per sampler the studies that end in the best family's basin, pooled, then apart on
    the far trap instances, the other traps and the instances that are not traps (:func:`_landscape_kind`).

    The basin count is the report's early-commitment measure (``benchmarks.report.study_commitment``): the incumbent
    ends below the runner-up family's minimum. A sampler run on fewer instances says on how many. The split by the
    generator's trap flag, a property each instance is drawn with, says where a shortfall of the pooled share lies.
    """
    commitment = summary.get("early_commitment")
    if not commitment:
        raise ValueError(
            "the report has no early-commitment section: its rows do not record their trials' families; re-run the "
            "suite with the current runner, then the report"
        )
    pooled = _pooled_commitment(commitment, list(commitment))
    window = next(iter(commitment.values()))["window"]
    lines = [
        heldout_section(summary).rstrip("\n"),
        "",
        f"| sampler | instances | studies | end in the best family's basin | last {window} trials mostly on the best "
        "family |",
        "|---|---|---|---|---|",
    ]
    for sampler, p in pooled.items():
        lines.append(
            f"| `{sampler}` | {p['instances']} | {p['studies']} | {_share(p['basin'], p['studies'])} "
            f"| {_share(p['committed'], p['recorded'])} |"
        )
    lines += [
        "",
        "(Basin: the incumbent ends below the runner-up family's minimum, the report's early-commitment measure; "
        "summed over the instances each sampler ran on.)",
        "",
    ]
    kind = {name: _landscape_kind(name) for name in commitment}
    groups = {k: [name for name in commitment if kind[name] == k] for k in ("far trap", "near trap", "other")}
    if groups["other"] and (groups["far trap"] or groups["near trap"]):
        pooled_by = {k: _pooled_commitment(commitment, names) for k, names in groups.items()}
        lines += [
            "| sampler | end in the best family's basin: trap instances, the best family's rate "
            f"{FAR_DECADES:g} decade or more from the runner-up's ({len(groups['far trap'])}) | the other trap "
            f"instances ({len(groups['near trap'])}) | the instances that are not traps ({len(groups['other'])}) |",
            "|---|---|---|---|",
        ]
        for sampler in pooled:
            cells = []
            for k in groups:
                c = pooled_by[k].get(sampler)
                cells.append(_share(c["basin"], c["studies"]) if c else "—")
            lines.append(f"| `{sampler}` | " + " | ".join(cells) + " |")
        lines += [
            "",
            "(Trap: the instance's runner-up family is the easiest to tune first and its best family has a narrow "
            "basin far from it, `benchmarks/problems/llm_family.py`; the split of the traps by distance was read off "
            "these rows after they were made, `benchmarks.readme.FAR_DECADES`.)",
            "",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Where each block goes.


@dataclass(frozen=True)
class Block:
    """A generated table: its marker name, the suite whose summary it is written from, the page it lives in."""

    name: str
    suite: str
    page: str  # relative to the repository root
    section: Callable[[dict], str]


BLOCKS: dict[str, Block] = {
    b.name: b
    for b in (
        Block("overview", "full", "README.md", user_overview_section),
        Block("full", "full", "docs/benchmarks.md", lambda s: overview_section(s, "full", with_timing=True)),
        Block("heldout", "heldout", "docs/benchmarks.md", heldout_section),
        Block("llm_family", "llm_family", "docs/benchmarks.md", llm_family_section),
        Block("llm_family_heldout", "llm_family_heldout", "docs/benchmarks.md", llm_family_section),
        Block("parallel", "parallel", "docs/benchmarks.md", lambda s: overview_section(s, "parallel")),
        Block("uneven_4", "uneven_4", "docs/many_workers.md", lambda s: overview_section(s, "uneven_4")),
        Block("uneven_8", "uneven_8", "docs/many_workers.md", lambda s: overview_section(s, "uneven_8")),
        Block("ablation", "ablation", "docs/benchmarks.md", ablation_section),
        Block("pretraining", "pretraining", "docs/benchmarks.md", lambda s: overview_section(s, "pretraining")),
        Block("constrained", "constrained", "docs/benchmarks.md", constrained_section),
        Block("warm_start", "warm_start", "docs/benchmarks.md", warm_start_section),
        Block("llm_trainer", "llm_trainer", "docs/benchmarks.md", small_budget_section),
        Block("lora_table", "lora_table", "docs/benchmarks.md", lora_table_section),
    )
}


def pages() -> list[str]:
    """Every page that holds a generated block."""
    return sorted({b.page for b in BLOCKS.values()})


def block_names(text: str) -> list[str]:
    """The names of the blocks ``text`` holds, in order; an unpaired or misordered marker is an error."""
    names, open_name = [], None
    for m in MARKER.finditer(text):
        name, kind = m.groups()
        if kind == "begin":
            if open_name is not None:
                raise ValueError(f"block {name!r} begins inside block {open_name!r}: close {open_name!r} first")
            open_name = name
        else:
            if open_name != name:
                raise ValueError(f"block {name!r} ends without its begin marker {markers(name)[0]}")
            names.append(name)
            open_name = None
    if open_name is not None:
        raise ValueError(f"block {open_name!r} has no end marker {markers(open_name)[1]}")
    return names


def section(summary: dict, name: str) -> str:
    """The text of block ``name`` from its suite's summary."""
    return BLOCKS[name].section(summary)


def with_section(text: str, summary: dict, name: str) -> str:
    """``text`` (a page) with block ``name`` rewritten from ``summary``."""
    begin, end = markers(name)
    if begin not in text or end not in text:
        raise ValueError(f"the page has no {begin} ... {end} block to fill")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + section(summary, name) + "\n" + end + tail


def check_page(page: str, text: str) -> None:
    """A page holds exactly the blocks registered for it, each once."""
    found = block_names(text)
    expected = sorted(b.name for b in BLOCKS.values() if b.page == page)
    unknown = sorted(set(found) - set(expected))
    if unknown:
        raise ValueError(
            f"{page} holds blocks nobody generates: {unknown}; register them in benchmarks/readme.py "
            "BLOCKS or remove their markers"
        )
    if sorted(found) != expected:
        missing = sorted(set(expected) - set(found))
        twice = sorted({n for n in found if found.count(n) > 1})
        raise ValueError(f"{page}: blocks missing {missing}, blocks written more than once {twice}")


def rewrite(root: Path, summaries: dict[str, dict], names: list[str] | None = None) -> dict[str, str]:
    """The pages under ``root`` with the blocks ``names`` (default: all) rewritten; ``summaries`` by suite."""
    names = list(BLOCKS) if names is None else names
    out = {}
    for page in pages():
        path = root / page
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: it should hold the blocks {[b.name for b in BLOCKS.values() if b.page == page]}"
            )
        text = path.read_text()
        check_page(page, text)
        for name in names:
            if BLOCKS[name].page == page:
                text = with_section(text, summaries[BLOCKS[name].suite], name)
        out[page] = text
    return out


def stale_blocks(root: Path, summaries: dict[str, dict], names: list[str] | None = None) -> list[str]:
    """The blocks (``page: name``) whose text under ``root`` is not what their summary makes."""
    names = list(BLOCKS) if names is None else names
    stale = []
    for name in names:
        block = BLOCKS[name]
        text = (root / block.page).read_text()
        if with_section(text, summaries[block.suite], name) != text:
            stale.append(f"{block.page}: {name}")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", help="only the blocks written from this suite (default: every block)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--root", type=Path, default=ROOT, help="the folder holding README.md and docs/")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a block is stale")
    args = parser.parse_args(argv)
    names = [n for n, b in BLOCKS.items() if args.suite is None or b.suite == args.suite]
    if not names:
        suites = sorted({b.suite for b in BLOCKS.values()})
        parser.error(f"no block is written from suite {args.suite!r}; the suites with blocks are {suites}")
    summaries = {}
    for suite in sorted({BLOCKS[n].suite for n in names}):
        path = args.results / suite / "report" / "summary.json"
        if not path.exists():
            raise SystemExit(f"{path} is missing: run python -m benchmarks report --suite {suite} first")
        summaries[suite] = json.loads(path.read_text())
    if args.check:
        stale = stale_blocks(args.root, summaries, names)
        for line in stale:
            print(f"stale: {line}", file=sys.stderr)
        return 1 if stale else 0
    for page, text in rewrite(args.root, summaries, names).items():
        (args.root / page).write_text(text)
        print(f"wrote the benchmark blocks of {args.root / page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
