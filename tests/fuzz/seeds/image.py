"""Seed corpus for fuzz_image: tiny real images of every format LayerScope reads, written by PIL.

    /usr/bin/python3 image.py OUTDIR
"""
import io
import pathlib
import sys

import numpy as np
from PIL import Image


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    rgb = Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8), "RGB")
    rgba = Image.fromarray(rng.integers(0, 256, (6, 9, 4), dtype=np.uint8), "RGBA")
    gray = rgb.convert("L")
    gray16 = Image.fromarray(rng.integers(0, 65536, (4, 3), dtype=np.uint16).astype("<u2"), "I;16")
    exif = Image.Exif()
    exif[0x0112] = 6
    seeds = {
        "rgb.png": (rgb, {}),
        "rgba.png": (rgba, {}),
        "gray.png": (gray, {}),
        "gray16.png": (gray16, {}),
        "palette.png": (rgb.convert("P"), {}),
        "bilevel.png": (gray.convert("1"), {}),
        "baseline.jpg": (rgb, {"quality": 80}),
        "progressive.jpg": (rgb, {"quality": 80, "progressive": True}),
        "gray.jpg": (gray, {}),
        "exif.jpg": (rgb, {"exif": exif}),
        "cmyk.jpg": (rgb.convert("CMYK"), {}),
        "rgb.bmp": (rgb, {}),
        "palette.bmp": (rgb.convert("P"), {}),
        "rgb.tif": (rgb, {}),
        "lzw.tif": (rgba, {"compression": "tiff_lzw"}),
        "deflate.tif": (gray, {"compression": "tiff_adobe_deflate"}),
        "big_endian.tif": (Image.fromarray(np.asarray(gray16).astype(">u2"), "I;16B"), {}),
        "lossy.webp": (rgb, {"quality": 70}),
        "lossless.webp": (rgb, {"lossless": True}),
        "alpha.webp": (rgba, {"quality": 70}),
    }
    for name, (image, options) in seeds.items():
        buffer = io.BytesIO()
        image.save(buffer, format=Image.registered_extensions()[pathlib.Path(name).suffix], **options)
        (out / name).write_bytes(buffer.getvalue())
    # The old 12-byte BITMAPCOREHEADER, which PIL does not write.
    pixels = b"".join(bytes(rng.integers(0, 256, 6 * 3, dtype=np.uint8)) + b"\0\0" for _ in range(3))
    core = b"BM" + (26 + len(pixels)).to_bytes(4, "little") + b"\0\0\0\0" + (26).to_bytes(4, "little")
    core += (12).to_bytes(4, "little") + (6).to_bytes(2, "little") + (3).to_bytes(2, "little")
    core += (1).to_bytes(2, "little") + (24).to_bytes(2, "little")
    (out / "core_header.bmp").write_bytes(core + pixels)


if __name__ == "__main__":
    main()
