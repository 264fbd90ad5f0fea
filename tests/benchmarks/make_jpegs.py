"""Writes N photographs as JPEG for the extraction benchmark: crops of scikit-image's sample photos
(Debian's python3-skimage), each resized to about 500x375 like a typical ImageNet picture.

    /usr/bin/python3 make_jpegs.py OUT_FOLDER [N]
"""
import pathlib
import sys

import cv2
import numpy as np
import skimage.data

SOURCES = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg", "hubble_deep_field.jpg"]


def main():
    out = pathlib.Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    out.mkdir(parents=True, exist_ok=True)
    folder = pathlib.Path(skimage.data.__file__).parent
    photos = [cv2.imread(str(folder / name), cv2.IMREAD_COLOR) for name in SOURCES]
    photos = [p for p in photos if p is not None]
    rng = np.random.default_rng(0)
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.5, 1.0)), int(w * rng.uniform(0.5, 1.0))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = cv2.resize(photo[top:top + ch, left:left + cw], (500, 375), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / f"photo{i:04d}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])


if __name__ == "__main__":
    main()
