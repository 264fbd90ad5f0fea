"""Seed corpus for fuzz_onnx: small models exported by torch.onnx.export in both training modes, one
with ReLU6 (Clip with its bounds as inputs) and untrained BatchNorms (weights shared through Identity
nodes), one that calls a module twice, and one at opset 17 with LayerNormalization.

    /usr/bin/python3 onnx.py OUTDIR
"""
import io
import pathlib
import sys
import warnings

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU6(), nn.Conv2d(4, 4, 3),
                                      nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()

    def forward(self, x, y):
        return self.block(x) + self.block(y)


class Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.norm(x))


def export(model, inputs, **options):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), inputs, buffer, **options)
    return buffer.getvalue()


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    image = torch.randn(1, 3, 8, 8)
    seeds = {
        "block_preserve.onnx": export(Block(), (image,), training=torch.onnx.TrainingMode.PRESERVE),
        "block_eval.onnx": export(Block(), (image,)),
        "twice.onnx": export(Twice(), (image, image), training=torch.onnx.TrainingMode.PRESERVE),
        "tokens_opset17.onnx": export(Tokens(), (torch.randn(1, 3, 8),), opset_version=17),
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
