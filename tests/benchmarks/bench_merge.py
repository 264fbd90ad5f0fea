"""`layerscope-cli merge` at scale: the demo model's features and classifier.1 over 2,000 and 40,000
images (the symbolic links bench_extraction_memory.py makes under BUILD_DIR/bench), extracted in 4
shards of .npy folders, merged into a folder, .npz and .h5. Prints each merge's time (median of 3,
with the fastest and slowest), rows/s and peak RSS; memory should not grow with the rows.

    /usr/bin/python3 bench_merge.py BUILD_DIR [--counts 2000,40000]
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

from bench_extraction_memory import ROOT, make_folder

SHARDS = 4


def run(command):
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        path.unlink()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--counts", default="2000,40000", help="images of each data set, comma-separated")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    work = build / "bench/memory"
    cli = str(build / "app/layerscope-cli")
    model = str(ROOT / "resources/demo/fashion_cnn.pt")
    for count in map(int, args.counts.split(",")):
        folder = work / f"images{count}"
        make_folder(folder, count)
        shards = [work / f"merge{count}-shard{i}" for i in range(SHARDS)]
        for i, shard in enumerate(shards):
            remove(shard)
            run([cli, "extract", model, "--input", str(folder), "--preset", "gray", "--resize", "28", "--layer",
                 "features", "--layer", "classifier.1", "--batch-size", "256", "--shard", f"{i}/{SHARDS}", "--quiet",
                 "--out", str(shard)])
        megabytes = sum(f.stat().st_size for s in shards for f in s.glob("*.npy")) / 2**20
        for name in ("merged", "merged.npz", "merged.h5"):
            out = work / f"merge{count}-{name}"
            seconds, peaks = [], []
            for _ in range(3):
                remove(out)
                took, peak = run([cli, "merge", *map(str, shards), "--quiet", "--out", str(out)])
                seconds.append(took)
                peaks.append(peak)
            median = statistics.median(seconds)
            print(f"merge of {count:,} rows ({megabytes:.0f} MiB in {SHARDS} shards) to {name}: {median:.2f} s "
                  f"({min(seconds):.2f}..{max(seconds):.2f}), {count / median:,.0f} rows/s, "
                  f"peak RSS {max(peaks):.0f} MiB")


if __name__ == "__main__":
    main()
