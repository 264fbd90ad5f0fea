"""The atlas benchmark: `layerscope-cli atlas` against `layerscope-cli extract` of the same layers on
the same folder (torchvision resnet18 with random weights, 256 JPEGs, imagenet preset, layer3 and
layer4, batch 16, 2 threads), interleaved rounds; prints images/s (median, min-max) and peak RSS of
each, and the ratio of the medians (goal: atlas >= 0.9x extract).

    /usr/bin/python3 bench_atlas.py BUILD_DIR [--rounds N] [--threads N]
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
LAYERS = ["--layer", "layer3", "--layer", "layer4"]


def run(command):
    """Runs `command`; returns (seconds, peak RSS in MiB) of that process alone."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    cli = str(build / "app/layerscope-cli")
    model = str(build / "tests/fixtures/resnet18_scripted/model.pt")
    jpegs = build / "bench/jpegs"
    if len(list(jpegs.glob("*.jpg"))) != 256:
        subprocess.run([sys.executable, str(HERE / "make_jpegs.py"), str(jpegs), "256"], check=True)
    work = build / "bench/atlas"
    work.mkdir(parents=True, exist_ok=True)
    common = ["--input", str(jpegs), "--preset", "imagenet", *LAYERS, "--batch-size", "16",
              "--threads", str(args.threads), "--quiet"]
    results = {"extract": [], "atlas": []}
    for _ in range(args.rounds):
        for name in results:
            out = work / name
            shutil.rmtree(out, ignore_errors=True)
            results[name].append(run([cli, name, model, *common, "--out", str(out)]))
    rates = {}
    for name, runs in results.items():
        per_second = [256 / seconds for seconds, _ in runs]
        rates[name] = statistics.median(per_second)
        peaks = [rss for _, rss in runs]
        print(f"{name}: median {rates[name]:.1f} images/s (min {min(per_second):.1f}, max {max(per_second):.1f}), "
              f"peak RSS median {statistics.median(peaks):.0f} MiB over {args.rounds} rounds")
    print(f"atlas/extract: {rates['atlas'] / rates['extract']:.2f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
