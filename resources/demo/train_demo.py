"""Trains LayerScope's demo model: a small CNN on Fashion-MNIST (Debian's dataset-fashion-mnist),
with Debian's python3-torch on the CPU, and writes what the application ships:

    fashion_cnn.pt      the model, scripted (torch.jit.script) and saved (under 2 MB)
    labels.txt          the ten class names, one a line, in output order
    images/*.png        a handful of test images (28x28, grayscale), one per class
    training.txt        epochs, time and test accuracy

    /usr/bin/python3 resources/demo/train_demo.py [OUT_FOLDER] [--epochs N]

About 90% test accuracy in a few minutes on 2 cores.
"""
import argparse
import gzip
import pathlib
import time

import cv2
import numpy as np
import torch
from torch import nn

DATA = pathlib.Path("/usr/share/datasets/fashion-mnist")
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(name):
    with gzip.open(DATA / name, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


class FashionCNN(nn.Module):
    """Input: 1x28x28 grayscale in [0, 1]. Output: ten class scores (logits)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(), nn.Dropout(0.2),
                                        nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=str(pathlib.Path(__file__).resolve().parent))
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    torch.manual_seed(0)
    torch.set_num_threads(2)

    train_x = torch.from_numpy(read_idx("train-images-idx3-ubyte.gz").copy()).float().div(255).unsqueeze(1)
    train_y = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    test_images = read_idx("t10k-images-idx3-ubyte.gz")
    test_x = torch.from_numpy(test_images.copy()).float().div(255).unsqueeze(1)
    test_y = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))

    model = FashionCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    started = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for first in range(0, len(order), 128):
            batch = order[first:first + 128]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
        print(f"epoch {epoch + 1}: test accuracy {accuracy:.4f} ({time.time() - started:.0f} s)")

    model.eval()
    torch.jit.script(model).save(str(out / "fashion_cnn.pt"))
    (out / "labels.txt").write_text("\n".join(LABELS) + "\n")
    images = out / "images"
    images.mkdir(exist_ok=True)
    for label, name in enumerate(LABELS):
        index = int(np.nonzero(test_y.numpy() == label)[0][0])
        file = name.lower().replace("/", "-").replace(" ", "-")
        cv2.imwrite(str(images / f"{index:04d}-{file}.png"), test_images[index])
    (out / "training.txt").write_text(
        f"epochs: {args.epochs}\ntraining time: {time.time() - started:.0f} s on {torch.get_num_threads()} threads\n"
        f"test accuracy (10,000 Fashion-MNIST test images): {accuracy:.4f}\n")


if __name__ == "__main__":
    main()
