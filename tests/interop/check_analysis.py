#!/usr/bin/env python3
"""Checks what LayerScope computes to describe and draw an activation against numpy and matplotlib.

    check_analysis.py RESULTS.npz

RESULTS.npz (written by tst_analysis) holds the inputs ("real": resnet18's layer1.0.conv1 from
forward hooks, "edge": NaN, Inf, zeros, a constant channel) and, per input, LayerScope's statistics,
histogram, channel orders and channel grids, plus its colormap tables. Prints "ok" and exits 0, or
prints the first difference and exits 1."""
import math
import sys

import numpy as np

ORDERS = ["mean", "max", "std", "zeros"]


def fail(message):
    print(message)
    sys.exit(1)


def close(a, b, rtol=1e-6, atol=1e-9):
    return abs(a - b) <= atol + rtol * abs(b)


def check_statistics(name, x, got):
    values = x.astype(np.float64).ravel()
    finite = values[np.isfinite(values)]
    want = [values.size, finite.size, np.isnan(values).sum(), np.isinf(values).sum(), finite.min(), finite.max(),
            finite.mean(), finite.std(), (values == 0).sum() / values.size]
    names = ["count", "finite", "nan", "inf", "min", "max", "mean", "std", "zero fraction"]
    for key, g, w in zip(names, got, want):
        if not close(float(g), float(w)):
            fail(f"{name} statistics {key}: {g} vs numpy {w}")


def check_histogram(name, x, counts, low_high):
    finite = x.astype(np.float64).ravel()
    finite = finite[np.isfinite(finite)]
    want, edges = np.histogram(finite, bins=len(counts), range=(finite.min(), finite.max()))
    if not close(low_high[0], edges[0]) or not close(low_high[1], edges[-1]):
        fail(f"{name} histogram range {low_high} vs numpy {edges[0]}..{edges[-1]}")
    # A value on a bin edge may fall either side of it in the last bit of float arithmetic.
    on_edge = sum(int(np.isclose(finite, e, rtol=0, atol=1e-12 * (edges[-1] - edges[0])).sum()) for e in edges[1:-1])
    if np.abs(counts - want).sum() > 2 * on_edge or counts.sum() != want.sum():
        fail(f"{name} histogram {counts.tolist()} vs numpy {want.tolist()}")


def channel_keys(plane, order):
    p = plane.reshape(plane.shape[0], -1).astype(np.float64)
    if order == "mean":
        return p.mean(axis=1)
    if order == "max":
        return p.max(axis=1)
    if order == "std":
        return p.std(axis=1)
    return (p == 0).mean(axis=1)


def check_order(name, x, sample, order, got):
    keys = channel_keys(x[sample], order)
    if sorted(got.tolist()) != list(range(len(keys))):
        fail(f"{name} order by {order}: not a permutation")
    scale = max(np.abs(keys).max(), 1e-12)
    for a, b in zip(got[:-1], got[1:]):
        if keys[a] < keys[b] - 1e-6 * scale:
            fail(f"{name} order by {order}: channel {a} ({keys[a]}) before {b} ({keys[b]})")
        if keys[a] == keys[b] and a > b:
            fail(f"{name} order by {order}: tied channels {a} and {b} not in index order")


def check_grid(name, x, sample, layer_wide, grid, lut):
    c, h, w = x.shape[1:]
    columns = max(1, math.ceil(math.sqrt(c)))
    rows = (c + columns - 1) // columns
    if grid.shape != (rows * h + (rows - 1), columns * w + (columns - 1), 3):
        fail(f"{name} grid shape {grid.shape} for {c} channels of {h}x{w}")
    planes = x[sample].astype(np.float64)
    finite_all = planes[np.isfinite(planes)]
    exact = total = 0
    for ch in range(c):
        plane = planes[ch]
        finite = plane[np.isfinite(plane)] if not layer_wide else finite_all
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
        span = high - low if high > low else 1.0
        index = np.clip(np.rint((np.nan_to_num(plane, nan=0.0, posinf=high, neginf=low) - low) * 255.0 / span), 0, 255)
        top, left = (ch // columns) * (h + 1), (ch % columns) * (w + 1)
        tile = grid[top:top + h, left:left + w].astype(int)
        for dy in range(h):
            for dx in range(w):
                if not np.isfinite(plane[dy, dx]):
                    continue  # NaN and Inf: LayerScope draws what OpenCV's conversion gives; not compared
                i = int(index[dy, dx])
                candidates = [lut[k].astype(int) for k in (i - 1, i, i + 1) if 0 <= k <= 255]
                total += 1
                if (tile[dy, dx] == lut[i]).all():
                    exact += 1
                elif not any((tile[dy, dx] == cand).all() for cand in candidates):
                    fail(f"{name} grid channel {ch} ({dy},{dx}): {tile[dy, dx]} is not the colour of index {i} {lut[i]}")
    if exact < 0.995 * total:
        fail(f"{name} grid: only {exact} of {total} pixels exactly numpy's colour index")
    gaps = np.ones(grid.shape[:2], bool)
    for ch in range(c):
        top, left = (ch // columns) * (h + 1), (ch % columns) * (w + 1)
        gaps[top:top + h, left:left + w] = False
    if not (grid[gaps] == 255).all():
        fail(f"{name} grid: gaps are not white")


def check_colormaps(tables):
    import matplotlib
    for name in ["viridis", "magma", "inferno", "plasma", "turbo"]:
        want = np.rint(matplotlib.colormaps[name](np.arange(256) / 255.0)[:, :3] * 255).astype(int)
        got = tables[name].astype(int)
        if np.abs(got - want).max() > 2:
            i = int(np.abs(got - want).max(axis=1).argmax())
            fail(f"colormap {name} at {i}/255: {got[i]} vs matplotlib {want[i]}")
    gray = tables["gray"].astype(int)
    if (gray != np.repeat(np.arange(256)[:, None], 3, axis=1)).any():
        fail("colormap gray is not i, i, i")
    diverging = tables["diverging"].astype(int)
    if abs(diverging[127:129].mean(axis=0) - 247).max() > 2 or diverging[0][2] <= diverging[0][0] or diverging[255][0] <= diverging[255][2]:
        fail(f"diverging map: ends {diverging[0]} {diverging[255]}, middle {diverging[127]}")


def main():
    d = np.load(sys.argv[1])
    for name in ("real", "edge"):
        x = d[name]
        check_statistics(name, x, d[f"{name}_statistics"])
        check_histogram(name, x, d[f"{name}_histogram"], d[f"{name}_histogram_range"])
        for sample in range(x.shape[0]):
            for order in ORDERS:
                check_order(f"{name} sample {sample}", x, sample, order, d[f"{name}_order_{order}_{sample}"])
        for layer_wide in (False, True):
            check_grid(f"{name} {'layer-wide' if layer_wide else 'per channel'}", x, 0, layer_wide,
                       d[f"{name}_grid_{'layer' if layer_wide else 'channel'}"], d["table_viridis"])
    check_colormaps({k[len("table_"):]: d[k] for k in d if k.startswith("table_")})
    print("ok")


if __name__ == "__main__":
    main()
