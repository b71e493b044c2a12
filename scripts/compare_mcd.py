#!/usr/bin/python3
"""MinCovDet (scikit-learn) against loupe's robust fit on the same data: a correlated
Gaussian of N normals in L dimensions plus a cluster of outliers. Usage:
scripts/compare_mcd.py BUILD/loupe_bench_mcd [N L OUTLIERS]"""
import subprocess, sys, tempfile, os
import numpy as np
from sklearn.covariance import MinCovDet

bench = sys.argv[1]
n, l, k = (int(v) for v in (sys.argv[2:5] if len(sys.argv) >= 5 else (300, 10, 20)))
rng = np.random.default_rng(0)
a = rng.normal(size=(l, l))
x = rng.normal(size=(n, l)) @ a.T
x = np.vstack([x, rng.normal(loc=4.0, size=(k, l)) @ a.T])
path = os.path.join(tempfile.mkdtemp(), "mcd.npy")
np.save(path, x)
print(f"scikit-learn MinCovDet support (N = {n + k}, L = {l}):",
      " ".join(str(int(MinCovDet(random_state=s).fit(x).support_.sum())) for s in range(5)))
subprocess.run([bench, path, "5"], check=True)
