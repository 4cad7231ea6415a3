#!/usr/bin/python3
"""PyTorch peer for bench/run_runner.sh: runs the same stem-tree plans as bench_runner
(the shared prefix once per frame, then every app's own branch) on the same frames.

The network is MobileNetV1 (torch_peer.py's definition, random weights: timing does not
depend on the values) cut at the same chokepoints as ours: 0 the input, 1 after the first
convolution, 2..14 after each depthwise-separable block, 15 after average pooling. An
app at chokepoint c owns a copy of the layers after c, then a fully connected layer to
one logit and a sigmoid (the M-Package head). Each variant is checked against eager
before it is timed.

Prints one line per plan and variant:
    peer <apps> <policy> <variant> <frames per second> <median ms per frame> <fastest pass's>

usage: torch_runner_peer.py --plans FILE --frames DIR --model v1_224|v1_050|v1_025
                            [--threads T] [--runs R]
"""
import argparse
import copy
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import MODELS, randomise  # noqa: E402

N_CONV = 27  # the first convolution and 13 (depthwise, pointwise) pairs
LAST = 15    # the chokepoint after pooling


def start_layer(c):
    """Index in the Sequential of the first layer after chokepoint c."""
    return 0 if c == 0 else min(2 * c - 1, N_CONV)


class Pool(nn.Module):
    def forward(self, x):
        return torch.flatten(torch.mean(x, dim=(2, 3)), 1)


def part(layers, a, b):
    """Layers after chokepoint a up to chokepoint b (pooling included when b is LAST)."""
    mods = list(layers[start_layer(a):start_layer(b) if b < LAST else N_CONV])
    if b == LAST and a < LAST:
        mods.append(Pool())
    return nn.Sequential(*mods)


def branch(layers, c, width):
    head = nn.Sequential(nn.Linear(width, 1), nn.Sigmoid())
    return nn.Sequential(copy.deepcopy(part(layers, c, LAST)), head).eval()


class Tree:
    """Segments between the plan's distinct chokepoints, each app's branch after its own."""

    def __init__(self, net, chokepoints):
        layers = list(net.children())[:N_CONV]
        width = layers[-1][0].out_channels
        cuts = sorted(set(c for c in chokepoints if c > 0))
        self.steps = []  # (segment or None, [branches at its end])
        self.root = [branch(layers, 0, width) for c in chokepoints if c == 0]
        prev = 0
        for c in cuts:
            self.steps.append((part(layers, prev, c).eval(), [branch(layers, c, width) for a in chokepoints if a == c]))
            prev = c

    def modules(self):
        yield from self.root
        for seg, branches in self.steps:
            yield seg
            yield from branches

    def map(self, fn):
        self.root = [fn(m) for m in self.root]
        self.steps = [(fn(s), [fn(b) for b in bs]) for s, bs in self.steps]
        return self

    def __call__(self, x):
        out = [b(x) for b in self.root]
        for seg, branches in self.steps:
            x = seg(x)
            out += [b(x) for b in branches]
        return out


def jit(module, x):
    with torch.no_grad():
        return torch.jit.optimize_for_inference(torch.jit.script(module))


def run_all(tree, frames):
    with torch.inference_mode():
        return [tree(x) for x in frames]


def time_tree(tree, frames, runs):
    run_all(tree, frames[:1])
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run_all(tree, frames)
        ms.append((time.perf_counter() - t0) * 1e3 / len(frames))
    return statistics.median(ms), min(ms)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plans", required=True)
    ap.add_argument("--frames", required=True)
    ap.add_argument("--model", default="v1_224")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    n, h, w, ch = map(int, open(os.path.join(a.frames, "frames.txt")).read().split())
    raw = np.fromfile(os.path.join(a.frames, "frames.f32"), dtype=np.float32).reshape(n, h, w, ch)
    frames = [torch.from_numpy(f).permute(2, 0, 1).unsqueeze(0).contiguous() for f in raw]
    build, res = MODELS[a.model]
    if res != h:
        sys.exit(f"torch_runner_peer: frames are {h}x{w}, model {a.model} takes {res}")
    net = randomise(build())
    for line in open(a.plans):
        f = line.split()
        if not f or f[0] != "plan":
            continue
        apps, policy, cps = int(f[1]), f[2], [int(c) for c in f[3].split(",")]
        tree = Tree(net, cps)
        ref = run_all(tree, frames[:2])
        variants = [("eager", tree)]
        fast = copy.deepcopy(tree).map(lambda m: jit(m, frames[0]))
        got = run_all(fast, frames[:2])
        err = max(float((g - r).abs().max()) for gs, rs in zip(got, ref) for g, r in zip(gs, rs))
        print(f"# {apps} {policy} jit: max abs difference from eager {err:.2g}", flush=True)
        if err < 1e-4:
            variants.append(("jit", fast))
        for name, t in variants:
            med, fastest = time_tree(t, frames, a.runs)
            print(f"peer {apps} {policy} {name} {1000 / med:.2f} {med:.3f} {fastest:.3f}", flush=True)


if __name__ == "__main__":
    main()
