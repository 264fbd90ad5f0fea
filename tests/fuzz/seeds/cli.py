"""Seed corpus for fuzz_cli: command lines of layerscope-cli as users write them, one argument a line.

    python3 cli.py OUTDIR
"""
import pathlib
import sys

COMMAND_LINES = [
    ["modules", "model.pt"],
    ["modules", "model.pt", "--trust-model"],
    ["extract", "model.pt", "-i", "photos/", "-l", "layer4", "-o", "features.npz"],
    ["extract", "model.pt", "-i", "a.png", "-i", "b.npy", "--all", "--with-inputs", "-o", "out/"],
    ["extract", "model.pt", "-i", "photos", "--preset", "imagenet", "-b", "32", "--shard", "3/8", "-o", "f.mat"],
    ["extract", "model.pt", "-i", "x.png", "-l", "fc", "--resize", "224x160", "--crop", "128", "--color", "bgr",
     "--mean", "0.5,0.5,0.5", "--std", "0.2,0.2,0.2", "--interpolation", "area", "-o", "x.csv"],
    ["extract", "model.pt", "-i", "x.png", "-l", "fc", "--resize-shorter", "256", "--no-scale", "--threads", "2",
     "--max-pixels", "1000000", "--colormap", "magma", "--normalize", "layer", "-o", "x.png"],
]

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for i, line in enumerate(COMMAND_LINES):
    (out / f"seed{i}").write_text("\n".join(line))
