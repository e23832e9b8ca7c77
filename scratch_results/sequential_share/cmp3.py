"""Variant rows vs the committed cascade rows now and at a revision, paired by (problem, seed)."""
import gzip, json, glob, sys, subprocess, io, numpy as np
from scipy.stats import binomtest
var_dir, suite, rev = sys.argv[1], sys.argv[2], sys.argv[3]
def load_files(files, reader):
    out = {}
    for f in files:
        for l in reader(f):
            r = json.loads(l); out[(r["problem"], r["seed"])] = r
    return out
a = load_files(glob.glob(f"{var_dir}/{suite}/*/cascade.jsonl.gz"), lambda f: gzip.open(f, "rt"))
b = load_files(glob.glob(f"/work/main/benchmarks/results/{suite}/*/cascade.jsonl.gz"), lambda f: gzip.open(f, "rt"))
def git_reader(path):
    data = subprocess.run(["git", "-C", "/work/main", "show", f"{rev}:{path}"], capture_output=True).stdout
    return gzip.open(io.BytesIO(data), "rt")
paths = [f[len("/work/main/"):] for f in glob.glob(f"/work/main/benchmarks/results/{suite}/*/cascade.jsonl.gz")]
c = load_files(paths, git_reader)
for name, other in (("now", b), (rev, c)):
    keys = sorted(set(a) & set(other))
    cells = []
    for t in (25, 50, 100, 200):
        x = np.array([a[k]["incumbent_true"][t - 1] for k in keys]); y = np.array([other[k]["incumbent_true"][t - 1] for k in keys])
        w, l = int((x < y).sum()), int((x > y).sum())
        cells.append(f"@{t} {w}/{l} p={binomtest(w, w + l).pvalue if w + l else 1:.2g}")
    print(f"variant vs {name} (n={len(keys)}): " + "; ".join(cells))
