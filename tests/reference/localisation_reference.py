"""Reference values for tests/metrics/test_localisation.cpp (PRO / AUPRO, pixel AUROC).

Re-implements the MVTec AD evaluation (Bergmann et al., mvtec_ad_evaluation's
pro_curve_util.compute_pro and generic_util.trapezoid) in plain numpy, with an
8-connected breadth-first labelling standing in for scipy.ndimage.label(structure=ones(3,3)),
so it runs with /usr/bin/python3 (torch + numpy, no scipy). Prints the values the C++
test embeds. Run: python3 tests/reference/localisation_reference.py
"""
from collections import deque

import numpy as np


def label(mask, connectivity=8):
    """scipy.ndimage.label(mask, np.ones((3, 3))) (8) or its default cross (4): 0 background,
    1..K in raster order."""
    h, w = mask.shape
    out = np.zeros((h, w), dtype=np.int64)
    k = 0
    for y0 in range(h):
        for x0 in range(w):
            if not mask[y0, x0] or out[y0, x0]:
                continue
            k += 1
            out[y0, x0] = k
            queue = deque([(y0, x0)])
            while queue:
                y, x = queue.popleft()
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        if connectivity == 4 and dy != 0 and dx != 0:
                            continue
                        yy, xx = y + dy, x + dx
                        if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not out[yy, xx]:
                            out[yy, xx] = k
                            queue.append((yy, xx))
    return out, k


def compute_pro(anomaly_maps, ground_truth_maps, connectivity=8):
    """As mvtec_ad_evaluation.pro_curve_util.compute_pro."""
    num_ok_pixels = 0
    num_gt_regions = 0
    shape = (len(anomaly_maps), anomaly_maps[0].shape[0], anomaly_maps[0].shape[1])
    fp_changes = np.zeros(shape, dtype=np.uint32)
    pro_changes = np.zeros(shape, dtype=np.float64)
    for gt_ind, gt_map in enumerate(ground_truth_maps):
        labeled, n_components = label(gt_map, connectivity)
        num_gt_regions += n_components
        ok_mask = labeled == 0
        num_ok_pixels += np.sum(ok_mask)
        fp_changes[gt_ind, ok_mask] = 1
        for k in range(n_components):
            region_mask = labeled == (k + 1)
            pro_changes[gt_ind, region_mask] = 1.0 / np.sum(region_mask)
    scores = np.array(anomaly_maps).ravel()
    fp_changes = fp_changes.ravel()
    pro_changes = pro_changes.ravel()
    order = np.argsort(scores)[::-1]
    scores_sorted = scores[order]
    fprs = np.cumsum(fp_changes[order]) / num_ok_pixels
    pros = np.cumsum(pro_changes[order]) / num_gt_regions
    keep = np.append(np.diff(scores_sorted) != 0, np.True_)
    fprs = np.clip(fprs[keep], None, 1.0)
    pros = np.clip(pros[keep], None, 1.0)
    return np.concatenate(([0.0], fprs, [1.0])), np.concatenate(([0.0], pros, [1.0]))


def trapezoid(x, y, x_max):
    """As mvtec_ad_evaluation.generic_util.trapezoid (x sorted ascending)."""
    correction = 0.0
    if x_max not in x:
        ins = np.searchsorted(x, x_max)
        y_interp = y[ins - 1] + ((y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1]))
        correction = 0.5 * (y_interp + y[ins - 1]) * (x_max - x[ins - 1])
    mask = x <= x_max
    return np.sum(0.5 * (y[mask][1:] + y[mask][:-1]) * (x[mask][1:] - x[mask][:-1])) + correction


def aupro(maps, masks, limit=0.3, connectivity=8):
    fprs, pros = compute_pro(maps, masks, connectivity)
    return trapezoid(fprs, pros, limit) / limit


def pixel_auroc(maps, masks):
    """Mann-Whitney with ties counted 1/2 (sklearn's roc_auc_score)."""
    s = np.array(maps).ravel()
    y = np.array(masks).ravel().astype(bool)
    pos, neg = s[y], s[~y]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * ties) / (len(pos) * len(neg))


def hand_example():
    """The 4x4 example written out in the C++ test."""
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=bool)
    amap = np.full((4, 4), 0.1)
    amap[0, 0], amap[0, 1], amap[1, 0] = 0.9, 0.8, 0.4  # region A
    amap[2, 2], amap[3, 3] = 0.7, 0.2  # region B (diagonal: one region under 8-connectivity)
    amap[0, 2], amap[0, 3], amap[1, 1], amap[1, 2] = 0.85, 0.6, 0.5, 0.4  # normal pixels above 0.1
    return [amap], [mask]


def three_image_example():
    """Three 6x6 images (the second without defect), levels 0..9 divided by 9 (many ties)."""
    rng = np.random.RandomState(11)
    levels = [rng.randint(0, 10, size=(6, 6)) for _ in range(3)]
    masks = [np.zeros((6, 6), dtype=bool) for _ in range(3)]
    masks[0][1:3, 1:4] = True  # a 2x3 block
    masks[0][4, 5] = True  # a single pixel
    masks[0][5, 4] = True  # diagonal to it: joins it
    masks[2][0:6, 2] = True  # a column
    masks[2][3, 3] = True
    # Defects score higher on average; the division comes last so equal levels tie exactly.
    for m, g in zip(levels, masks):
        m[g] = np.minimum(9, m[g] + 3)
    return [m / 9.0 for m in levels], masks


if __name__ == "__main__":
    maps, masks = hand_example()
    print("hand: pixel AUROC %.17g (91/110 = %.17g)" % (pixel_auroc(maps, masks), 91 / 110))
    print("hand: AUPRO(0.3) %.17g (1819/3960 = %.17g)" % (aupro(maps, masks), 1819 / 3960))
    print("hand: AUPRO(0.3), 4-connected %.17g (2509/5940 = %.17g)" % (aupro(maps, masks, 0.3, 4), 2509 / 5940))
    maps, masks = three_image_example()
    for name, arr in (("maps", maps), ("masks", masks)):
        flat = np.array(arr).astype(np.float64).ravel() * (9 if name == "maps" else 1)
        print(name, "(x9)" if name == "maps" else "", ", ".join(str(int(round(v))) for v in flat))
    for limit in (0.3, 0.05, 1.0):
        print("three images: AUPRO(%g) %.17g" % (limit, aupro(maps, masks, limit)))
    print("three images: pixel AUROC %.17g" % pixel_auroc(maps, masks))
