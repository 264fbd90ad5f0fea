"""The extraction benchmark: torchvision resnet18 (random weights), 256 JPEGs, imagenet preset
(224x224), batch 16, capturing layer1..layer4 and avgpool to .npy files on disk.

    (a) the forward alone on preloaded tensors (bench_forward_preloaded)
    (b) layerscope-cli extract, end to end (process start to exit)
    (c) the same job in Python as the seed does it (seed_style_extract.py), as Python runs by
        default, and with glibc's malloc tuned (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_)

Each is run --rounds times, interleaved; medians are compared.

    /usr/bin/python3 bench_extraction.py BUILD_DIR [--rounds N] [--threads N]
"""
import argparse
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
LAYERS = ["layer1", "layer2", "layer3", "layer4", "avgpool"]


def images_per_second(output):
    return float(re.search(r"([\d.]+) images/s", output).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    model = build / "tests/fixtures/resnet18_scripted/model.pt"
    work = build / "bench"
    jpegs = work / "jpegs"
    if len(list(jpegs.glob("*.jpg"))) != 256:
        subprocess.run([sys.executable, str(HERE / "make_jpegs.py"), str(jpegs), "256"], check=True)
    out = work / "out"
    tuned = dict(os.environ, MALLOC_MMAP_THRESHOLD_="1073741824", MALLOC_TRIM_THRESHOLD_="1073741824")

    def forward():
        result = subprocess.run([str(build / "tests/benchmarks/bench_forward_preloaded"), str(model), str(jpegs),
                                 "--batch-size", "16", "--threads", str(args.threads)],
                                check=True, capture_output=True, text=True)
        return images_per_second(result.stdout)

    def cli():
        shutil.rmtree(out, ignore_errors=True)
        layers = [a for layer in LAYERS for a in ("--layer", layer)]
        start = time.perf_counter()
        subprocess.run([str(build / "app/layerscope-cli"), "extract", str(model), "--input", str(jpegs),
                        "--preset", "imagenet", *layers, "--batch-size", "16", "--threads", str(args.threads),
                        "--quiet", "--out", str(out)], check=True, capture_output=True)
        return 256 / (time.perf_counter() - start)

    def python(env):
        shutil.rmtree(out, ignore_errors=True)
        result = subprocess.run([sys.executable, str(HERE / "seed_style_extract.py"), str(model), str(jpegs), str(out),
                                 "--threads", str(args.threads)], check=True, capture_output=True, text=True, env=env)
        return images_per_second(result.stdout)

    runs = {"a": [], "b": [], "c": [], "c_tuned": []}
    for _ in range(args.rounds):
        runs["a"].append(forward())
        runs["b"].append(cli())
        runs["c"].append(python(None))
        runs["c_tuned"].append(python(tuned))
    shutil.rmtree(out, ignore_errors=True)
    m = {k: statistics.median(v) for k, v in runs.items()}
    print(f"resnet18, 256 JPEGs (500x375) -> 224x224, batch 16, {args.threads} threads, "
          f"layer1..layer4 + avgpool to .npy; median of {args.rounds} rounds")
    print(f"{'':44} {'images/s':>9}")
    print(f"{'(a) forward alone, preloaded tensors':44} {m['a']:9.1f}")
    print(f"{'(b) layerscope-cli extract, end to end':44} {m['b']:9.1f}")
    print(f"{'(c) Python seed-style, default malloc':44} {m['c']:9.1f}")
    print(f"{'(c) Python seed-style, tuned malloc':44} {m['c_tuned']:9.1f}")
    print(f"(b)/(a) = {m['b'] / m['a']:.2f} (goal >= 0.9)   (b)/(c) = {m['b'] / m['c']:.2f} (goal >= 2)   "
          f"(b)/(c tuned) = {m['b'] / m['c_tuned']:.2f} (goal >= 1.25)")


if __name__ == "__main__":
    main()
