"""Writes the example TorchScript models LayerScope opens from its menu and README commands.

Run by the build (CMake target `examples`) with Debian's python3-torch:
    /usr/bin/python3 resources/examples/make_examples.py OUT_FOLDER
"""
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from seed_models import make_seed_cnn, make_seed_nested  # noqa: E402


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.jit.script(make_seed_cnn()).save(str(out / "seed_cnn.pt"))
    torch.jit.script(make_seed_nested()).save(str(out / "seed_nested.pt"))


if __name__ == "__main__":
    main()
