"""Writes torchvision's densenet121 (random weights, eval mode) as TorchScript for the benchmarks.

    /usr/bin/python3 make_densenet.py OUT.pt
"""
import sys

import torch
import torchvision

torch.manual_seed(0)
model = torchvision.models.densenet121(weights=None).eval()
torch.jit.save(torch.jit.script(model), sys.argv[1])
