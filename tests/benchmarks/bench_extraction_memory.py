"""Memory in the number of images: `layerscope-cli extract` of the demo model's features.4 and output
over 2,000 and over 40,000 images (symbolic links to the demo's 28x28 Fashion-MNIST pictures, made
once under BUILD_DIR/bench), to a folder of .npy files and to .npz. Prints each run's peak RSS and
the difference (goal: 40,000 at most 24 MiB above 2,000; the sorted file list itself may grow).

    /usr/bin/python3 bench_extraction_memory.py BUILD_DIR
"""
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def make_folder(folder, count):
    if folder.is_dir() and len(os.listdir(folder)) == count:
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sources = sorted((ROOT / "resources/demo/images").glob("*.png"))
    for i in range(count):
        os.symlink(sources[i % len(sources)], folder / f"image{i:06d}.png")


def peak_rss(command):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return usage.ru_maxrss / 1024


def main():
    build = pathlib.Path(sys.argv[1]).resolve()
    work = build / "bench/memory"
    cli = str(build / "app/layerscope-cli")
    model = str(ROOT / "resources/demo/fashion_cnn.pt")
    for out_name in ("features", "features.npz"):
        peaks = {}
        for count in (2000, 40000):
            folder = work / f"images{count}"
            make_folder(folder, count)
            out = work / f"out{count}-{out_name}"
            shutil.rmtree(out, ignore_errors=True)
            if out.exists():
                out.unlink()
            peaks[count] = peak_rss([cli, "extract", model, "--input", str(folder), "--preset", "gray", "--resize", "28",
                                     "--layer", "features.4", "--batch-size", "64", "--quiet", "--out", str(out)])
        print(f"extract to {'.npz' if out_name.endswith('.npz') else 'a folder'}: peak RSS {peaks[2000]:.1f} MiB for 2,000 "
              f"images, {peaks[40000]:.1f} MiB for 40,000: {peaks[40000] - peaks[2000]:+.1f} MiB (goal <= +24)")


if __name__ == "__main__":
    main()
