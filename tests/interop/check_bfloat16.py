"""A bfloat16 model's captures as extract stores them, against the widened bfloat16 tensors PyTorch's
hooks recorded (reference.npz of the seed_cnn_bfloat16 fixture).

    check_bfloat16.py OUT REFERENCE.npz [avg]

OUT is an .npz or a .pt file. Every capture must be float32 holding bfloat16 values (the low 16 bits of
each float32 zero: the model ran in bfloat16 and nothing was rounded again) within one bfloat16 step of
the reference, which allows another summation order on another machine. With avg, 4-D captures are
compared with numpy's mean over H, W of the reference in float64, stored as float32. Prints the number of
captures and how many are bit for bit the reference.
"""
import sys

import numpy as np

out_path, reference_path = sys.argv[1:3]
pooled = sys.argv[3:] == ["avg"]
if out_path.endswith(".pt"):
    import torch
    out = {key: tensor.numpy() for key, tensor in torch.load(out_path, weights_only=True).items()}
else:
    out = dict(np.load(out_path))
reference = np.load(reference_path)
assert sorted(out) == sorted(reference.files), (sorted(out), reference.files)
exact = 0
for key in reference.files:
    full, got = reference[key], out[key]
    assert got.dtype == np.float32, f"{key}: {got.dtype}"
    if pooled and full.ndim == 4:
        expected = full.astype(np.float64).mean(axis=(2, 3)).astype(np.float32)
    else:
        expected = full
        assert not (got.view(np.uint32) & 0xFFFF).any(), f"{key}: not bfloat16 values"
    assert got.shape == expected.shape, f"{key}: {got.shape} != {expected.shape}"
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    difference = float(np.abs(got.astype(np.float64) - expected).max()) if got.size else 0.0
    assert difference <= scale / 256, f"{key}: {difference} (largest value {scale})"
    exact += int(np.array_equal(got, expected))
print(len(reference.files), exact)
