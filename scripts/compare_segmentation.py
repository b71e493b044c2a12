#!/usr/bin/python3
"""loupe's quickshift and SLIC against scikit-image's on the same photo (the image loupe
loaded, so resizing is identical): segment counts and adjusted Rand index. scikit-image's
quickshift draws tie-breaking noise from its seed, so it is compared with itself across
seeds too. Usage: scripts/compare_segmentation.py BUILD/loupe_bench_segment_dump PHOTO... [--size 224]"""
import argparse, os, subprocess, tempfile
import numpy as np
from skimage.segmentation import quickshift, slic
from sklearn.metrics import adjusted_rand_score as ari

p = argparse.ArgumentParser()
p.add_argument("dump")
p.add_argument("photos", nargs="+")
p.add_argument("--size", default="224")
a = p.parse_args()
for photo in a.photos:
    d = tempfile.mkdtemp()
    subprocess.run([a.dump, photo, a.size, d], check=True, stdout=subprocess.DEVNULL)
    image = np.load(os.path.join(d, "image.npy")).transpose(1, 2, 0).astype(np.float64)
    q = np.load(os.path.join(d, "quickshift.npy"))
    qc = np.load(os.path.join(d, "quickshift_connected.npy"))
    s = np.load(os.path.join(d, "slic.npy"))
    sk_q = [quickshift(image, kernel_size=4, max_dist=200, ratio=0.2, random_seed=seed) for seed in range(3)]
    sk_s = slic(image, n_segments=100, start_label=0)
    n = lambda x: len(np.unique(x))
    f = lambda x, y: ari(x.ravel(), y.ravel())
    print(f"{os.path.basename(photo)}: quickshift segments loupe {n(q)} (connected {n(qc)}), "
          f"skimage {[n(x) for x in sk_q]}; ARI loupe/skimage {np.mean([f(q, x) for x in sk_q]):.3f} "
          f"(connected {np.mean([f(qc, x) for x in sk_q]):.3f}), skimage seed/seed "
          f"{np.mean([f(sk_q[0], sk_q[1]), f(sk_q[0], sk_q[2]), f(sk_q[1], sk_q[2])]):.3f}; "
          f"SLIC segments loupe {n(s)} skimage {n(sk_s)}, ARI {f(s, sk_s):.4f}, identical {np.array_equal(s, sk_s)}")
    try:  # shap's Image masker "blur(128,128)" is cv2.blur
        import cv2
        ref = cv2.blur(image, (128, 128)).transpose(2, 0, 1)
        blur = np.load(os.path.join(d, "blur128.npy"))
        print(f"    blur(128,128): max |loupe - cv2.blur| = {np.abs(blur - ref).max():.2e}")
    except ImportError:
        pass
