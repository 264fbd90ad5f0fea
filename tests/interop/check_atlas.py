#!/usr/bin/env python3
"""Checks an atlas written by LayerScope against the same computation in numpy.

    check_atlas.py ATLAS CAPTURES.npz --score max|mean --top K [--files FILES.json] [--rtol R]
    check_atlas.py --make-edge-cases OUT.npz
    check_atlas.py --check-projection POOLED.npy RESULT.npz

CAPTURES.npz holds, under each capture's key, that capture for every image of the data set (row i is
data-set row i), and under "output" the model's output. With --files, CAPTURES.npz's rows are the
images listed under "kept_recursive" in FILES.json instead, matched to the atlas's rows by file. The atlas is read with numpy only; every
ranking, position, statistic, pooled vector and prediction is recomputed here independently.
With --rtol (captures made by PyTorch in Python, the atlas by LibTorch: the same values to rounding),
scores and statistics agree to R relative, and two images may swap ranks only where their scores
agree to R. Prints "ok" and exits 0, or prints the first difference and exits 1."""
import json
import pathlib
import sys
import warnings

import numpy as np


def fail(message):
    print(message)
    sys.exit(1)


def channels_by_positions(x):
    """[N, C, P] float64 view of a capture: maps [N,C,H,W], vectors [N,C], tokens [N,T,D]."""
    if x.ndim == 4:
        return x.reshape(x.shape[0], x.shape[1], -1), x.shape[3], "map"
    if x.ndim == 2:
        return x[:, :, None], 1, "vector"
    if x.ndim == 3:
        return np.transpose(x, (0, 2, 1)), 1, "tokens"
    raise ValueError(x.shape)


def expected_layer(x, score_kind, k):
    v, width, kind = channels_by_positions(x.astype(np.float32))
    n, c, _ = v.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        all_nan = np.isnan(v).all(axis=2)
        maxima = np.where(all_nan, np.nan, np.nanmax(np.where(all_nan[..., None], 0, v), axis=2)).astype(np.float32)
        argmax = np.where(all_nan, -1, np.nanargmax(np.where(all_nan[..., None], 0, v), axis=2))
        means = v.astype(np.float64).mean(axis=2).astype(np.float32)
    scores = means if score_kind == "mean" else maxima
    if kind == "map":
        y, xx = np.where(argmax >= 0, argmax // width, -1), np.where(argmax >= 0, argmax % width, -1)
    elif kind == "tokens":
        y, xx = argmax, np.full_like(argmax, -1)
    else:
        y, xx = np.full_like(argmax, -1), np.full_like(argmax, -1)
    layer = {"scores": scores, "y": y, "x": xx, "pooled": means, "top": [], "bottom": [], "stats": []}
    rows = np.arange(n)
    for ch in range(c):
        s = scores[:, ch]
        ok = ~np.isnan(s)
        top = sorted(rows[ok], key=lambda r: (-float(s[r]), r))[:k]
        bottom = sorted(rows[ok], key=lambda r: (float(s[r]), r))[:k]
        layer["top"].append(top)
        layer["bottom"].append(bottom)
        values = v[:, ch, :].astype(np.float64)
        finite = values[np.isfinite(values)]
        layer["stats"].append({
            "values": finite.size,
            "mean": finite.mean() if finite.size else np.nan,
            "std": finite.std() if finite.size else np.nan,
            "min": finite.min() if finite.size else np.inf,
            "max": finite.max() if finite.size else -np.inf,
            "images": n,
            "active": int((s > 0).sum()),
            "nan": int(np.isnan(values).sum()),
            "inf": int(np.isinf(values).sum()),
        })
    return layer


def same(a, b, rtol):
    """Equal, or with a tolerance (as close() below): within 1e-6 + rtol relative."""
    return a == b or (rtol > 0 and abs(float(a) - float(b)) <= 1e-6 + rtol * max(abs(float(a)), abs(float(b))))


def check_ranking(folder, prefix, want, layer, k, atlas_rows, rtol):
    index_of_row = {int(r): i for i, r in enumerate(atlas_rows)}
    rows = np.load(folder / f"{prefix}_rows.npy")
    scores = np.load(folder / f"{prefix}_scores.npy")
    positions = np.load(folder / f"{prefix}_positions.npy")
    if rows.dtype != np.int64 or scores.dtype != np.float32 or positions.dtype != np.int32:
        fail(f"{folder.name}/{prefix}: dtypes {rows.dtype} {scores.dtype} {positions.dtype}")
    for ch, expected_rows in enumerate(want):
        got = [int(r) for r in rows[ch] if r >= 0]
        want_rows = [int(atlas_rows[i]) for i in expected_rows]
        if len(got) != len(want_rows):
            fail(f"{folder.name} channel {ch} {prefix}: {len(got)} rows, numpy {len(want_rows)}")
        for rank, r in enumerate(expected_rows):
            mine = index_of_row[got[rank]]
            if got[rank] != want_rows[rank] and not (same(layer["scores"][mine, ch], layer["scores"][r, ch], rtol)):
                fail(f"{folder.name} channel {ch} {prefix}: rows {got}, numpy {want_rows}")
            r = mine  # from here on, the image the atlas ranked here
            if not same(scores[ch, rank], layer["scores"][r, ch], rtol):
                fail(f"{folder.name} channel {ch} {prefix} rank {rank}: score {scores[ch, rank]} vs {layer['scores'][r, ch]}")
            if rtol == 0 and (positions[ch, rank] != [layer["y"][r, ch], layer["x"][r, ch]]).any():
                fail(f"{folder.name} channel {ch} {prefix} rank {rank}: position {positions[ch, rank]} vs "
                     f"{[layer['y'][r, ch], layer['x'][r, ch]]}")
        if len(got) < k and (rows[ch, len(got):] != -1).any():
            fail(f"{folder.name} channel {ch} {prefix}: padding is not -1")


def close(a, b, rtol=1e-5, atol=1e-6):
    if np.isnan(a) and np.isnan(b):
        return True
    if np.isinf(a) or np.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def check(atlas, captures, score_kind, k, files_json=None, rtol=0.0):
    atlas = pathlib.Path(atlas)
    data = np.load(captures)
    info = json.loads((atlas / "atlas.json").read_text())
    if info["score"] != score_kind or info["top_k"] != k:
        fail(f"atlas.json: score {info['score']} top_k {info['top_k']}")
    rows = np.load(atlas / "rows.npy")
    n = len(rows)
    files = [json.loads(line) for line in (atlas / "images.jsonl").read_text().splitlines()]
    if len(files) != n:
        fail(f"images.jsonl: {len(files)} lines for {n} rows")
    if files_json:
        kept = json.loads(pathlib.Path(files_json).read_text())["kept_recursive"]
        if files != kept:
            fail(f"images.jsonl {files[:3]}... is not the readable images {kept[:3]}...")
    elif (rows != np.arange(n)).any():
        fail(f"rows.npy: {rows[:10]}... is not 0..{n - 1}")
    if (np.diff(rows) <= 0).any():
        fail("rows.npy is not in data-set order")
    output = data["output"] if "output" in data else None
    classes = np.load(atlas / "predicted_class.npy")
    pscores = np.load(atlas / "predicted_score.npy")
    if output is not None and output.ndim == 2:
        best = output.max(axis=1)
        for i in range(n):
            if classes[i] != output[i].argmax() and not same(output[i, classes[i]], best[i], rtol):
                fail(f"predicted_class of image {i}: {classes[i]} vs numpy {output[i].argmax()}")
            if not same(pscores[i], np.float32(best[i]), rtol):
                fail(f"predicted_score of image {i}: {pscores[i]} vs numpy {best[i]}")
    for entry in info["captures"]:
        x = data[entry["capture"]]
        if len(x) != n:
            fail(f"{entry['capture']}: {len(x)} images in the captures, {n} in the atlas")
        if list(x.shape[1:]) != entry["shape"]:
            fail(f"{entry['capture']}: shape {entry['shape']} vs {list(x.shape[1:])}")
        folder = atlas / entry["folder"]
        layer = expected_layer(x, score_kind, k)
        check_ranking(folder, "top", layer["top"], layer, k, rows, rtol)
        check_ranking(folder, "bottom", layer["bottom"], layer, k, rows, rtol)
        pooled = np.load(folder / "pooled.npy")
        if pooled.shape != layer["pooled"].shape or not np.allclose(pooled, layer["pooled"], rtol=max(rtol, 1e-6), atol=1e-7,
                                                                     equal_nan=True):
            fail(f"{entry['capture']}: pooled differs from numpy by {np.nanmax(np.abs(pooled - layer['pooled']))}")
        stats = np.load(folder / "statistics.npy")
        for ch, want in enumerate(layer["stats"]):
            values, mean, m2, lo, hi, images, active, nans, infs = stats[ch]
            std = np.sqrt(m2 / values) if values else np.nan
            got = {"values": values, "mean": mean if values else np.nan, "std": std, "min": lo, "max": hi,
                   "images": images, "active": active, "nan": nans, "inf": infs}
            for key, value in want.items():
                if not close(float(got[key]), float(value), rtol=max(rtol, 1e-5)):
                    fail(f"{entry['capture']} channel {ch} {key}: {got[key]} vs numpy {value}")
    print("ok")


def check_projection(pooled_path, result_path):
    """The projector's PCA and the cosine neighbours, recomputed with numpy's SVD."""
    pooled = np.load(pooled_path).astype(np.float64)
    result = np.load(result_path)
    finite = np.isfinite(pooled).all(axis=1)
    data = pooled[finite]
    centred = data - data.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2].copy()
    for k in range(len(components)):
        if components[k, np.argmax(np.abs(components[k]))] < 0:
            components[k] *= -1
    coords = centred @ components.T
    scale = np.abs(coords).max()
    for k, name in enumerate(("x", "y")):
        got = result[name][finite]
        if not np.allclose(got, coords[:, k], rtol=1e-4, atol=1e-5 * scale):
            fail(f"projection {name} differs from numpy by {np.abs(got - coords[:, k]).max()} (scale {scale})")
        if not np.isnan(result[name][~finite]).all():
            fail(f"projection {name}: rows with NaN or Inf are not NaN")
    explained = (s ** 2 / (s ** 2).sum())[:2]
    if not np.allclose(result["explained"], explained, rtol=1e-6):
        fail(f"explained variance {result['explained']} vs numpy {explained}")
    row = int(result["row"])
    norms = np.linalg.norm(pooled, axis=1)
    cosine = pooled @ pooled[row] / (norms * norms[row])
    order = [i for i in np.argsort(-cosine, kind="stable") if i != row and np.isfinite(cosine[i])][:len(result["neighbours"])]
    if list(result["neighbours"]) != order:
        fail(f"neighbours of {row}: {list(result['neighbours'])} vs numpy {order}")
    if not np.allclose(result["similarities"], cosine[order], rtol=1e-5):
        fail(f"similarities {result['similarities']} vs numpy {cosine[order]}")
    print("ok")


def make_edge_cases(path):
    """Values a real capture can hold and an atlas must not get wrong: NaN, an all-NaN channel, +-Inf,
    ties between images, a dead channel, float64 tokens."""
    rng = np.random.default_rng(5)
    maps = rng.standard_normal((11, 6, 4, 5)).astype(np.float32)
    maps[3, 0, 1, 2] = np.nan
    maps[:, 1] = np.nan                      # all NaN
    maps[4, 2, 3, 4] = np.inf
    maps[6, 2, 0, 0] = -np.inf
    maps[:, 3] = np.where(maps[:, 3] > 0, -maps[:, 3], maps[:, 3])  # dead: never above zero
    maps[:, 4] = 1.5                         # every image ties
    maps[[2, 7, 9], 5, 2, 2] = 9.0           # ties at the top
    tokens = rng.standard_normal((11, 5, 7))  # float64, [N, T, D]
    tokens[8, 2, 3] = np.nan
    vectors = rng.standard_normal((11, 9)).astype(np.float32)
    vectors[:, 0] = 0.0
    output = rng.standard_normal((11, 4)).astype(np.float32)
    np.savez(path, maps=maps, tokens=tokens, vectors=vectors, output=output)


if __name__ == "__main__":
    if sys.argv[1] == "--check-projection":
        check_projection(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "--make-edge-cases":
        make_edge_cases(sys.argv[2])
        print("ok")
    else:
        args = sys.argv[1:]
        check(args[0], args[1], args[args.index("--score") + 1], int(args[args.index("--top") + 1]),
              args[args.index("--files") + 1] if "--files" in args else None,
              float(args[args.index("--rtol") + 1]) if "--rtol" in args else 0.0)
