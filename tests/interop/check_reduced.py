"""numpy's own pooling and half precision on the full captures, against what extract --pool/--dtype wrote.

    check_reduced.py OUT.npz REFERENCE.npz MAPS TOKENS DTYPE

MAPS avg|max|none pools 4-D [N, C, H, W] captures over H, W; TOKENS cls|mean|none pools 3-D
[N, T, D] captures (token 0, or the mean over tokens); DTYPE float16|float32 is how floats are stored.
"""
import json
import sys

import numpy as np

out_path, reference_path, maps, tokens, dtype = sys.argv[1:6]
out, reference = np.load(out_path), np.load(reference_path)
for key in reference.files:
    full = reference[key].astype(np.float64)
    if full.ndim == 4 and maps != "none":
        expected = full.mean(axis=(2, 3)) if maps == "avg" else full.max(axis=(2, 3))
    elif full.ndim == 3 and tokens != "none":
        expected = full[:, 0, :] if tokens == "cls" else full.mean(axis=1)
    else:
        expected = full
    expected = expected.astype(reference[key].dtype)
    if dtype == "float16" and np.issubdtype(expected.dtype, np.floating):
        expected = expected.astype(np.float16)
    got = out[key]
    assert got.dtype == expected.dtype, f"{key}: {got.dtype} != {expected.dtype}"
    assert got.shape == expected.shape, f"{key}: {got.shape} != {expected.shape}"
    scale = max(1.0, float(np.abs(expected.astype(np.float64)).max())) if expected.size else 1.0
    tolerance = 1e-3 if dtype == "float16" else 1e-6  # a float16 step; float32 rounding of a float64 mean
    difference = float(np.abs(got.astype(np.float64) - expected.astype(np.float64)).max()) if got.size else 0.0
    assert difference <= tolerance * scale, f"{key}: {difference}"
manifest = json.load(open(out_path + ".manifest.json"))
want = {k: v for k, v in (("maps", maps), ("tokens", tokens)) if v != "none"}
if dtype == "float16":
    want["dtype"] = "float16"
assert manifest.get("reduce", {}) == want, manifest.get("reduce")
print(len(reference.files))
