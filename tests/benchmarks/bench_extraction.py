"""The extraction benchmark: torchvision resnet18 (random weights), JPEGs of 500x375, imagenet preset
(224x224), batch 16, capturing layer1..layer4 and avgpool to .npy files on disk.

    (a) the forward alone on preloaded tensors (bench_forward_preloaded), after two warm-up batches;
        every batch on all threads, and as extract runs it by default: one batch per thread side
        by side (--streams)
    (b) layerscope-cli extract, end to end (process start to exit), over 256 images and over
        --long images (1024): the difference of the two is the throughput of a long run without
        its fixed costs (process start, model load, the first forward), and those fixed costs
    (c) the same job in Python as the seed does it (seed_style_extract.py), as Python runs by
        default, and with glibc's malloc tuned (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_)
    (d) starting and ending the process alone (layerscope-cli --help)

Each is run --rounds times, interleaved; medians are compared, with the fastest and slowest.

    /usr/bin/python3 bench_extraction.py BUILD_DIR [--rounds N] [--threads N] [--long N] [--no-python]
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


def photos(folder, count):
    if len(list(folder.glob("*.jpg"))) != count:
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([sys.executable, str(HERE / "make_jpegs.py"), str(folder), str(count)], check=True,
                       capture_output=True)
    return folder


def spread(values):
    return f"{statistics.median(values):7.2f} ({min(values):.2f}..{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--long", type=int, default=1024, help="images of the long run")
    parser.add_argument("--no-python", action="store_true", help="skip (c), the Python runs")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    cli_path = str(build / "app/layerscope-cli")
    model = build / "tests/fixtures/resnet18_scripted/model.pt"
    work = build / "bench"
    jpegs = photos(work / "jpegs", 256)
    long_jpegs = photos(work / f"jpegs-{args.long}", args.long)
    out = work / "out"
    tuned = dict(os.environ, MALLOC_MMAP_THRESHOLD_="1073741824", MALLOC_TRIM_THRESHOLD_="1073741824")

    streams = min(args.threads, 4)  # extract's default (defaultForwardStreams)

    def forward(streams=1):
        result = subprocess.run([str(build / "tests/benchmarks/bench_forward_preloaded"), str(model), str(jpegs),
                                 "--batch-size", "16", "--threads", str(args.threads), "--streams", str(streams)],
                                check=True, capture_output=True, text=True)
        return images_per_second(result.stdout)

    def seconds(command):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - start

    def cli(folder):
        shutil.rmtree(out, ignore_errors=True)
        layers = [a for layer in LAYERS for a in ("--layer", layer)]
        return seconds([cli_path, "extract", str(model), "--input", str(folder), "--preset", "imagenet", *layers,
                        "--batch-size", "16", "--threads", str(args.threads), "--quiet", "--out", str(out)])

    def python(env):
        shutil.rmtree(out, ignore_errors=True)
        result = subprocess.run([sys.executable, str(HERE / "seed_style_extract.py"), str(model), str(jpegs), str(out),
                                 "--threads", str(args.threads)], check=True, capture_output=True, text=True, env=env)
        return images_per_second(result.stdout)

    runs = {"a": [], "a_streams": [], "b": [], "b_long": [], "c": [], "c_tuned": [], "d": []}
    for _ in range(args.rounds):
        runs["a"].append(forward())
        if streams > 1:
            runs["a_streams"].append(forward(streams))
        runs["b"].append(256 / cli(jpegs))
        runs["b_long"].append(args.long / cli(long_jpegs))
        runs["d"].append(seconds([cli_path, "--help"]))
        if not args.no_python:
            runs["c"].append(python(None))
            runs["c_tuned"].append(python(tuned))
    shutil.rmtree(out, ignore_errors=True)
    m = {k: statistics.median(v) for k, v in runs.items() if v}
    # Two run lengths: time = fixed + images / steady rate, per round (the rounds are interleaved).
    steady = [(args.long - 256) / (args.long / long - 256 / short) for short, long in zip(runs["b"], runs["b_long"])]
    fixed = [256 / short - 256 / rate for short, rate in zip(runs["b"], steady)]
    print(f"resnet18, JPEGs (500x375) -> 224x224, batch 16, {args.threads} threads, "
          f"layer1..layer4 + avgpool to .npy; median (fastest..slowest) of {args.rounds} rounds")
    print(f"{'':52} {'images/s':>9}")
    print(f"{'(a) forward alone, preloaded tensors':52} {spread(runs['a'])}")
    if streams > 1:
        print(f"{f'(a) the same in {streams} streams (as extract runs it)':52} {spread(runs['a_streams'])}")
    print(f"{'(b) layerscope-cli extract, end to end, 256 images':52} {spread(runs['b'])}")
    print(f"{f'(b) layerscope-cli extract, end to end, {args.long} images':52} {spread(runs['b_long'])}")
    print(f"{'(b) long-run rate, without the fixed costs':52} {spread(steady)}")
    if not args.no_python:
        print(f"{'(c) Python seed-style, default malloc':52} {spread(runs['c'])}")
        print(f"{'(c) Python seed-style, tuned malloc':52} {spread(runs['c_tuned'])}")
    print(f"fixed costs of a run (start, model load, first forward, exit): {spread(fixed)} s, "
          f"of which starting and ending the process (d): {spread(runs['d'])} s")
    print(f"(b)/(a): 256 images {m['b'] / m['a']:.2f}, {args.long} images {m['b_long'] / m['a']:.2f}, "
          f"long-run rate {statistics.median(steady) / m['a']:.2f} (goal >= 0.85)")
    if streams > 1:
        print(f"(b)/(a in streams): 256 images {m['b'] / m['a_streams']:.2f}, "
              f"long-run rate {statistics.median(steady) / m['a_streams']:.2f}")
    if not args.no_python:
        print(f"(b)/(c) = {m['b'] / m['c']:.2f} (goal >= 2)   (b)/(c tuned) = {m['b'] / m['c_tuned']:.2f} (goal >= 1.25)")


if __name__ == "__main__":
    main()
