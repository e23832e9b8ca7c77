"""Summary of the small-budget research runs (branch research-small-budget): the variant against the shipped cascade
re-run on this machine (paired by seed), and medians beside the committed rows of the peers at the same seeds.

    python -m benchmarks.research.small_budget_summary scratch_results [variant] [suite] [checkpoints...]
"""

from __future__ import annotations

from pathlib import Path
import sys

import numpy as np

from benchmarks import rows


COMMITTED = Path(__file__).resolve().parents[1] / "results"
HOME = {"llm_strong": "full", "llm_smooth": "full"}


def incumbents(p: Path, checkpoints: list[int]) -> dict[int, list[float]]:
    out = {}
    for r in rows.read(p):
        inc = r["incumbent_true"]
        if len(inc) >= max(checkpoints):
            out[r["seed"]] = [inc[c - 1] for c in checkpoints]
    return out


def main(argv: list[str]) -> int:
    scratch = Path(argv[0])
    variant = argv[1] if len(argv) > 1 else "cascade_budget50"
    suite = argv[2] if len(argv) > 2 else "small_budget"
    checkpoints = [int(a) for a in argv[3:]] or [25, 50]
    peers = ("tpe_default", "tpe_independent", "gp")
    folder = scratch / suite
    total = {c: [0, 0, 0] for c in checkpoints}
    total_c = {c: [0, 0, 0] for c in checkpoints}
    ratios = {c: [] for c in checkpoints}
    ahead = {c: {s: [0, 0, 0] for s in peers} for c in checkpoints}  # problems where variant / shipped median is lower
    lines = []
    for prob_dir in sorted(d for d in folder.iterdir() if d.is_dir()):
        problem = prob_dir.name
        home = HOME.get(problem) or (
            "llm_family" if (COMMITTED / "llm_family" / problem).is_dir() else "llm_family_heldout"
        )
        var = incumbents(rows.path(scratch, suite, problem, variant), checkpoints)
        comm = {s: incumbents(rows.path(COMMITTED, home, problem, s), checkpoints) for s in ("cascade", *peers)}
        # the shipped cascade re-run here where it was; otherwise its committed rows (reproduced here seed for seed)
        here = incumbents(rows.path(scratch, suite, problem, "cascade"), checkpoints)
        ship = {**comm["cascade"], **here}
        seeds = sorted(set(var) & set(ship))
        if not seeds:
            continue
        optimum = rows.read(rows.path(scratch, suite, problem, variant))[0]["optimum"]
        for i, c in enumerate(checkpoints):
            v = np.array([var[s][i] for s in seeds])
            sh = np.array([ship[s][i] for s in seeds])
            w, lost = int((v < sh - 1e-9).sum()), int((v > sh + 1e-9).sum())
            total[c][0] += w
            total[c][1] += lost
            total[c][2] += len(seeds) - w - lost
            ratios[c] += list(np.log(np.maximum(v - optimum, 1e-6) / np.maximum(sh - optimum, 1e-6)))
            cs = [s for s in seeds if s in comm["cascade"]]
            vc = np.array([var[s][i] for s in cs])
            cc = np.array([comm["cascade"][s][i] for s in cs])
            wc, lc = int((vc < cc - 1e-9).sum()), int((vc > cc + 1e-9).sum())
            total_c[c][0] += wc
            total_c[c][1] += lc
            total_c[c][2] += len(cs) - wc - lc
            med = {s: np.median([comm[s][k][i] for k in seeds if k in comm[s]]) if comm[s] else np.nan for s in peers}
            rerun = [s for s in cs if s in here]
            for s in (s for s in peers if comm[s]):
                ahead[c][s][0] += int(np.median(v) < med[s])
                ahead[c][s][1] += int(np.median(sh) < med[s])
                ahead[c][s][2] += 1
            same = int(sum(abs(here[s][i] - comm["cascade"][s][i]) < 1e-9 for s in rerun))
            lines.append(
                f"| {problem} | {c} | {len(seeds)} | {np.median(v):.4f} | {np.median(sh):.4f} | {w}-{lost} | "
                f"{np.median(cc):.4f} | {wc}-{lc} | {same}/{len(rerun)} | "
                + " | ".join(f"{med[s]:.4f}" for s in peers)
                + " |"
            )
    print(
        f"Variant `{variant}` against the shipped `cascade` (re-run here, paired by seed; and the committed rows), "
        "true value of the incumbent (lower is better), medians over seeds; wins-losses of the variant.\n"
    )
    print(
        "| problem | trials | seeds | variant | shipped (here) | W-L vs here | shipped (committed) | W-L vs committed "
        "| here = committed | " + " | ".join(peers) + " |"
    )
    print("|---|" + "---|" * (9 + len(peers) - 1))
    print("\n".join(lines))
    print()
    for c in checkpoints:
        g = float(np.exp(np.mean(ratios[c])))
        print(
            f"- {c} trials: vs shipped here {total[c][0]} wins, {total[c][1]} losses, {total[c][2]} ties; "
            f"vs committed {total_c[c][0]}-{total_c[c][1]} ({total_c[c][2]} ties); "
            f"geometric mean of the regret ratio variant/shipped(here) {g:.3f}; median lower than the peer's on "
            + ", ".join(f"{s} {a[0]}/{a[2]} (shipped {a[1]}/{a[2]})" for s, a in ahead[c].items() if a[2])
            + " problems"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
