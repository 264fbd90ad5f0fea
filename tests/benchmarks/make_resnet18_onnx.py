"""The same resnet18 (random weights, seed 7) as TorchScript and as ONNX (TrainingMode.PRESERVE, dynamic
batch, 224x224), for bench_onnx.

    /usr/bin/python3 tests/benchmarks/make_resnet18_onnx.py OUT_FOLDER
"""
import pathlib
import sys
import warnings

import torch
import torchvision

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(7)
model = torchvision.models.resnet18(weights=None).eval()
example = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    torch.jit.trace(model, example).save(str(out / "resnet18.pt"))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(model, (example,), str(out / "resnet18.onnx"), input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}}, training=torch.onnx.TrainingMode.PRESERVE)
