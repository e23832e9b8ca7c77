"""Compare scratch cascade rows with committed rows of a sampler, paired by (problem, seed), at checkpoints."""
import gzip, json, glob, sys, numpy as np
from scipy.stats import wilcoxon
scratch, suite, other = sys.argv[1], sys.argv[2], sys.argv[3]
def load(pattern):
    out = {}
    for f in glob.glob(pattern):
        for l in gzip.open(f, "rt"):
            r = json.loads(l); out[(r["problem"], r["seed"])] = r
    return out
a = load(f"{scratch}/{suite}/*/cascade.jsonl.gz"); b = load(f"/work/main/benchmarks/results/{suite}/*/{other}.jsonl.gz")
keys = sorted(set(a) & set(b))
line = []
for t in (10, 25, 50, 100, 200):
    x = np.array([a[k]["incumbent_true"][t-1] for k in keys]); y = np.array([b[k]["incumbent_true"][t-1] for k in keys])
    w, l = int((x < y).sum()), int((x > y).sum())
    p = wilcoxon(x, y).pvalue if w + l else 1.0
    line.append(f"@{t} {w}/{l} p={p:.2g}")
print(f"{suite} variant vs {other} (n={len(keys)}): " + "; ".join(line))
