#!/usr/bin/python3
"""PyTorch peers for bench/run_onnx.sh: the torchvision classifiers that
scripts/onnx_export.py exports (same seed, so the same weights), run in the fast ways
PyTorch offers on a CPU: eager, eager channels_last, and TorchScript frozen with
torch.jit.optimize_for_inference (oneDNN). Each variant's output is checked against
eager before it is timed.

Prints one line per measurement:
    peer <model> <variant> <batch> <threads> <median ms per frame> <fastest run's>
usage: torch_onnx_peer.py --models resnet50,mobilenet_v2 [--runs R] [--warmup W] [--batch B] [--threads T]
"""
import argparse
import statistics
import time

import torch
import torchvision


def build(name):
    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None).eval()


def timed(fn, x, runs, warmup):
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn(x)
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet50,mobilenet_v2")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for name in a.models.split(","):
        m = build(name)
        x = torch.rand(a.batch, 3, 224, 224)
        with torch.no_grad():
            ref = m(x)
            variants = {"eager": m}
            cl = build(name).to(memory_format=torch.channels_last)
            variants["eager_channels_last"] = lambda t, cl=cl: cl(t.contiguous(memory_format=torch.channels_last))
            try:
                variants["ts_optimize_for_inference"] = torch.jit.optimize_for_inference(torch.jit.script(build(name)))
            except Exception as e:  # noqa: BLE001
                print(f"# {name} ts_optimize_for_inference: {e}")
        for v, fn in variants.items():
            with torch.no_grad():
                out = fn(x)
            err = float((out - ref).norm() / ref.norm())
            if err > 1e-3:
                print(f"# {name} {v}: skipped, rel L2 {err:.2g} against eager")
                continue
            med, fast = timed(fn, x, a.runs, a.warmup)
            print(f"peer {name} {v} {a.batch} {a.threads} {med / a.batch:.3f} {fast / a.batch:.3f}", flush=True)


if __name__ == "__main__":
    main()
