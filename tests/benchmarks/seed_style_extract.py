"""The extraction job done the way the seed does it in Python: PIL decoding and torchvision
transforms, register_forward_hook on the chosen layers, numpy.save of each layer's features.

    /usr/bin/python3 seed_style_extract.py MODEL.pt JPEG_FOLDER OUT_FOLDER [--threads N] [--batch-size N]

MODEL.pt is the scripted resnet18 fixture; its weights are loaded into torchvision's eager resnet18
(forward hooks need the eager module). Prints images per second of the whole job.
"""
import argparse
import pathlib
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

LAYERS = ["layer1", "layer2", "layer3", "layer4", "avgpool"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("images")
    parser.add_argument("out")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    model = torchvision.models.resnet18(weights=None)
    model.load_state_dict(torch.jit.load(args.model).state_dict())
    model.eval()
    features = {name: [] for name in LAYERS}
    for name in LAYERS:
        model.get_submodule(name).register_forward_hook(
            lambda module, inputs, output, name=name: features[name].append(output.detach().numpy().copy()))
    transform = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    files = sorted(pathlib.Path(args.images).glob("*.jpg"))
    with torch.no_grad():
        for first in range(0, len(files), args.batch_size):
            batch = torch.stack([transform(Image.open(f).convert("RGB")) for f in files[first:first + args.batch_size]])
            model(batch)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in LAYERS:
        np.save(out / f"{name}.npy", np.concatenate(features[name]))
    seconds = time.perf_counter() - started
    print(f"{len(files) / seconds:.1f} images/s ({len(files)} images in {seconds:.2f} s, {args.threads} threads)")


if __name__ == "__main__":
    main()
