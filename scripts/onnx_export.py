#!/usr/bin/python3
"""Exports torchvision classifiers to ONNX with seeded random weights (nothing is
downloaded), records torchvision's input normalisation in metadata_props, and writes,
beside each model, an input X (NCHW float32 .npy) and torch's
own output on it. Used by tests/e2e (whole networks against PyTorch) and bench/.

usage: onnx_export.py OUT_DIR NAME [NAME...]   (NAME: a torchvision.models constructor;
       NAME:K gives it K classes instead of 1000, written as NAME_K.onnx and so on)
Runs under Debian's python (/usr/bin/python3: python3-torch, python3-torchvision)."""
import sys
import os

import numpy as np
import onnx
import torch
import torchvision


def export(out_dir, spec, opset=13, size=224):
    name, _, classes = spec.partition(":")
    torch.manual_seed(0)
    ctor = getattr(torchvision.models, name)
    kwargs = {"num_classes": int(classes)} if classes else {}
    if "weights" in ctor.__code__.co_varnames:
        kwargs["weights"] = None
    model = ctor(**kwargs)
    if classes:
        name = name + "_" + classes
    # seeded random weights; batch-norm statistics made non-trivial so folding is tested
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()
    if name.startswith("inception"):
        size = 299
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, x[:1], path, opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    # torchvision's normalisation, as Mainstream reads it (docs/formats.md, "ONNX")
    m = onnx.load(path)
    for k, v in (("mean", "0.485,0.456,0.406"), ("std", "0.229,0.224,0.225"), ("range", "1"),
                 ("channel_order", "RGB")):
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, path)
    with torch.no_grad():
        y = model(x)
    np.save(os.path.join(out_dir, name + ".x.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, name + ".y.npy"), y.numpy().astype(np.float32))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    torch.set_num_threads(2)
    for n in sys.argv[2:]:
        export(sys.argv[1], n)
