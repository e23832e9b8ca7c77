"""Per problem family of the heldout suite: variant vs committed sampler, pooled W/L at checkpoints."""
import gzip, json, glob, sys, numpy as np, re
from scipy.stats import binomtest
scratch, suite, other = sys.argv[1], sys.argv[2], sys.argv[3]
def load(pattern):
    out = {}
    for f in glob.glob(pattern):
        for l in gzip.open(f, "rt"):
            r = json.loads(l); out[(r["problem"], r["seed"])] = r
    return out
a = load(f"{scratch}/{suite}/*/cascade.jsonl.gz"); b = load(f"/work/main/benchmarks/results/{suite}/*/{other}.jsonl.gz")
fams = {}
for k in sorted(set(a) & set(b)):
    fams.setdefault(re.sub(r"_?\d+$", "", re.sub(r"_d\d+$", "", k[0])), []).append(k)
for fam, keys in fams.items():
    n = len(a[keys[0]]["incumbent_true"])
    line = []
    for t in (10, 25, 50, 100, 200):
        if t > n: continue
        x = np.array([a[k]["incumbent_true"][t-1] for k in keys]); y = np.array([b[k]["incumbent_true"][t-1] for k in keys])
        w, l = int((x < y).sum()), int((x > y).sum())
        p = binomtest(w, w + l).pvalue if w + l else 1.0
        line.append(f"@{t} {w}/{l} p={p:.2g}")
    print(f"{suite}/{fam} vs {other} (n={len(keys)}): " + "; ".join(line))
