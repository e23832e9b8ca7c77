"""Medians of the incumbent's true value at checkpoints, per problem and sampler, from scratch rows, and paired
wins-losses of a variant against a reference (research helper).

    python -m benchmarks.research.compare_scratch scratch_results/<suite> <variant> <reference> [checkpoints...]
"""

from __future__ import annotations

from pathlib import Path
import sys

import numpy as np

from benchmarks import rows


def main(argv: list[str]) -> int:
    folder, variant, reference = Path(argv[0]), argv[1], argv[2]
    checkpoints = [int(a) for a in argv[3:]] or [10, 25, 50, 100]
    total = {c: [0, 0, 0] for c in checkpoints}
    for prob in sorted(d for d in folder.iterdir() if d.is_dir()):
        inc = {}
        for f in sorted(prob.glob("*.jsonl.gz")):
            inc[f.name.removesuffix(".jsonl.gz")] = {r["seed"]: r["incumbent_true"] for r in rows.read(f)}
        names = sorted(inc)
        if variant not in inc or reference not in inc:
            continue
        print(f"\n{prob.name}: " + " | ".join(names))
        for c in checkpoints:
            meds = [np.median([v[c - 1] for v in inc[n].values() if len(v) >= c]) for n in names]
            seeds = sorted(set(inc[variant]) & set(inc[reference]))
            a = np.array([inc[variant][s][c - 1] for s in seeds])
            b = np.array([inc[reference][s][c - 1] for s in seeds])
            w, loss = int((a < b).sum()), int((a > b).sum())
            total[c][0] += w
            total[c][1] += loss
            total[c][2] += len(seeds) - w - loss
            print(f"  @{c}: " + " | ".join(f"{m:.4f}" for m in meds) + f"   {variant} vs {reference} {w}-{loss}")
    for c in checkpoints:
        print(f"total @{c}: {variant} vs {reference} {total[c][0]}-{total[c][1]} ({total[c][2]} ties)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
