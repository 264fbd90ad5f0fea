"""Reads an export back the way a user would, with numpy, SciPy and PyTorch, and checks that every
array of a reference .npz is there with the same values, dtype and shape.

    /usr/bin/python3 check_exports.py FORMAT PATH REFERENCE.npz

Exits non-zero with a message on the first difference.
"""
import csv
import json
import pathlib
import sys

import numpy as np


def fail(message):
    sys.exit(f"check_exports: {message}")


def compare(name, got, expected):
    if got.shape != expected.shape:
        fail(f"{name}: shape {got.shape} != {expected.shape}")
    if got.dtype != expected.dtype:
        fail(f"{name}: dtype {got.dtype} != {expected.dtype}")
    if not np.array_equal(got, expected):
        fail(f"{name}: values differ (max {np.abs(got.astype(np.float64) - expected).max()})")


def main():
    kind, path, reference_path = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    reference = np.load(reference_path)
    if kind == "npz":
        got = np.load(path)
        for name in reference.files:
            compare(name, got[name], reference[name])
    elif kind == "folder":
        manifest = json.loads((path / "manifest.json").read_text()) if (path / "manifest.json").exists() else None
        for name in reference.files:
            compare(name, np.load(path / f"{name}.npy"), reference[name])
        if manifest is not None and "captures" in manifest:
            listed = {c["name"]: c for c in manifest["captures"]}
            for name in reference.files:
                if list(listed[name]["shape"]) != list(reference[name].shape):
                    fail(f"manifest shape of {name}")
    elif kind == "mat":
        import scipy.io
        mat = scipy.io.loadmat(str(path))
        names = [str(c[0]) for c in mat["capture_names"][0]]
        variables = [str(c[0]) for c in mat["variable_names"][0]]
        mapping = dict(zip(names, variables))
        for name in reference.files:
            expected = reference[name]
            if expected.ndim == 1:
                expected = expected[None, :]  # MATLAB has no 1-D arrays: a row vector, as scipy.io.savemat writes
            compare(name, mat[mapping[name]], expected)
    elif kind == "pt":
        import torch
        got = torch.load(str(path))
        if not isinstance(got, dict):
            fail(f"torch.load gave a {type(got).__name__}, not a dict")
        for name in reference.files:
            compare(name, got[name].numpy(), reference[name])
    elif kind == "h5":
        import h5py
        with h5py.File(path, "r") as f:
            for name in reference.files:
                expected = reference[name]
                dataset = f[name]
                if dataset.chunks is not None and dataset.chunks[1:] != expected.shape[1:]:
                    fail(f"{name}: chunks {dataset.chunks} are not whole rows")
                compare(name, dataset[()], expected if expected.dtype != np.bool_ else expected.astype(np.uint8))
            manifest = json.loads(f.attrs["layerscope_manifest"])
            if not isinstance(manifest, dict):
                fail("the manifest attribute is not a JSON object")
    elif kind == "csv":
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        if header[0] != "input":
            fail("first column is not 'input'")
        column = 1
        for name in reference.files:
            expected = reference[name].reshape(reference[name].shape[0], -1)
            width = expected.shape[1]
            if header[column] != f"{name}[0]":
                fail(f"header {header[column]} where {name}[0] was expected")
            got = np.array([[float(v) for v in row[column:column + width]] for row in body], dtype=expected.dtype)
            compare(name, got, expected)
            column += width
        if column != len(header):
            fail("extra columns")
    else:
        fail(f"unknown kind {kind}")
    print("ok")


if __name__ == "__main__":
    main()
