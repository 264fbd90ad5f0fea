"""Seed corpus for fuzz_npy: small arrays as numpy writes them (dtypes, orders, endians, versions).

    python3 npy.py OUTDIR
"""
import io
import pathlib
import sys

import numpy as np
from numpy.lib import format as npformat

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
arrays = {
    "f4": np.arange(6, dtype="<f4").reshape(2, 3),
    "f8_big": np.arange(4, dtype=">f8"),
    "i8": np.arange(5, dtype="<i8"),
    "u1": np.arange(9, dtype="u1").reshape(3, 3),
    "bool": np.array([True, False, True]),
    "f2": np.ones((2, 2), dtype="<f2"),
    "fortran": np.asfortranarray(np.arange(12, dtype="<f4").reshape(3, 4)),
    "scalar": np.array(3.5, dtype="<f4"),
    "empty": np.zeros((0, 4), dtype="<f4"),
}
for name, array in arrays.items():
    np.save(out / f"{name}.npy", array)
for version, array in {2: np.arange(3, dtype="<i4"), 3: np.arange(6, dtype=">i2").reshape(2, 3, order="F")}.items():
    buffer = io.BytesIO()
    npformat.write_array(buffer, array, version=(version, 0))
    (out / f"version{version}.npy").write_bytes(buffer.getvalue())
