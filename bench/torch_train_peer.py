#!/usr/bin/python3
"""PyTorch peer of bench_train_step for bench/run_train_step.sh: one training step of the
same branch, rebuilt from the 'branch' and 'layer' lines that bench_train_step prints
(so both sides train the same layers at the same chokepoint): every conv2d (depthwise or
not, with its stride, padding, bias and ReLU6), the pooling, flatten and the 1-unit
head, whose sigmoid is folded into BCEWithLogitsLoss (ours takes the loss on the logit
too). The head starts at zero as the trainer's does; the other weights are PyTorch's
random initialisation (timing does not depend on the values). The script fails when its
parameter count or any layer's output shape differs from ours.

A step: forward, loss, zero_grad(set_to_none), backward, optimiser step on one fixed
batch of activations in [0, 6) (what a ReLU6 leaves; PyTorch's dense kernels take the same
time whatever the values) with random 0/1 targets. Optimisers as the trainer's:
adam = AdamW (lr 1e-3, decoupled weight decay 1e-4 on weights, none on biases),
sgd = SGD (lr 1e-2, momentum 0.9, L2 weight decay 1e-4 on weights).

Prints per measurement (the same fields as bench_train_step's 'ours' lines):
    peer <model> <variant> <optimizer> <cp> <batch> <threads> <step ms> <min step ms>
         <forward ms> <backward ms> <update ms> <rows/s> <params> <first loss> <last loss>
and '# ...' lines for checks. Variants: eager (NCHW fp32) and channels_last (NHWC fp32,
oneDNN's preferred layout). torch.compile does not exist in 1.13, and TorchScript or
optimize_for_inference do not help training.

usage: bench_train_step --describe ... | torch_train_peer.py [--layers FILE|-] [--threads 1,2]
           [--batch 32] [--steps 10] [--warmup 2] [--optimizer adam|sgd] [--variants eager,channels_last]
Run with Debian's python3-torch (system /usr/bin/python3).
"""
import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn as nn


def parse_dims(s):
    return [int(v) for v in s.split("x")]


def read_branches(f):
    """{(model, cp): {'params': N, 'in': [H, W, C], 'layers': [(op, {key: value})]}} in order."""
    branches = {}
    for line in f:
        t = line.split()
        if not t or t[0] not in ("branch", "layer"):
            continue
        key = (t[1], int(t[2]))
        if t[0] == "branch":
            kv = dict(x.split("=", 1) for x in t[3:])
            branches[key] = {"params": int(kv["params"]), "in": parse_dims(kv["in"]), "layers": []}
        else:
            branches[key]["layers"].append((t[4], dict(x.split("=", 1) for x in t[5:])))
    return branches


def act_module(kv):
    if "act" not in kv:
        return []
    lo, hi = (float(v) for v in kv["act"].split(","))
    if (lo, hi) == (0.0, 6.0):
        return [nn.ReLU6(inplace=True)]
    return [nn.ReLU(inplace=True) if (lo, hi) == (0.0, math.inf) else nn.Hardtanh(lo, hi, inplace=True)]


def conv_modules(kv):
    """Conv2d (+ ReLU6). TFLite's SAME padding is asymmetric at stride 2 (one more row at
    the bottom); the symmetric padding that gives the same output shape costs the same,
    so it is used when it exists (the window alignment differs by one pixel, which does
    not matter for timing), else an explicit ZeroPad2d."""
    (h, w, cin), (oh, ow, cout) = parse_dims(kv["in"]), parse_dims(kv["out"])
    kh, kw = parse_dims(kv["k"])
    sh, sw = parse_dims(kv["stride"])
    dh, dw = parse_dims(kv["dilation"])
    t, b, l, r = (int(v) for v in kv["pad"].split(","))
    ph, pw = max(t, b), max(l, r)
    same = lambda n, k, s, d, p, o: (n + 2 * p - d * (k - 1) - 1) // s + 1 == o
    conv = lambda p: nn.Conv2d(cin, cout, (kh, kw), (sh, sw), p, (dh, dw), int(kv["groups"]), bias=kv["bias"] == "1")
    if same(h, kh, sh, dh, ph, oh) and same(w, kw, sw, dw, pw, ow):
        layers = [conv((ph, pw))]
    else:
        layers = [nn.ZeroPad2d((l, r, t, b)), conv(0)]
    return layers + act_module(kv)


def pool_module(op, kv):
    (h, w, _), (oh, ow, _) = parse_dims(kv["in"]), parse_dims(kv["out"])
    if op in ("global_avg_pool", "mean") or (op == "avg_pool" and (oh, ow) == (1, 1) and parse_dims(kv["k"]) == [h, w]):
        return [nn.AdaptiveAvgPool2d(1)]
    t, b, l, r = (int(v) for v in kv["pad"].split(","))
    if t != b or l != r:
        raise SystemExit(f"torch_train_peer: {op} with asymmetric padding {kv['pad']} is not supported")
    pool = nn.AvgPool2d if op == "avg_pool" else nn.MaxPool2d
    extra = {"count_include_pad": False} if op == "avg_pool" else {}
    return [pool(parse_dims(kv["k"]), parse_dims(kv["stride"]), (t, l), **extra)]


def build(name, branch):
    """nn.Sequential of the branch without its final sigmoid, and the head (last Linear)."""
    layers, checks = [], []  # checks: (index of the module ending a layer, expected [C, H, W] or [K])
    ops = branch["layers"]
    if not ops or ops[-1][0] != "sigmoid":
        raise SystemExit(f"torch_train_peer: {name}: the branch does not end in a sigmoid")
    for op, kv in ops[:-1]:
        if op == "conv2d":
            layers += conv_modules(kv)
        elif op in ("avg_pool", "max_pool", "global_avg_pool", "mean"):
            layers += pool_module(op, kv)
        elif op == "reshape":
            layers.append(nn.Flatten())
        elif op == "fully_connected":
            layers += [nn.Linear(math.prod(parse_dims(kv["in"])), parse_dims(kv["out"])[0], bias=kv["bias"] == "1")]
            layers += act_module(kv)
        else:
            raise SystemExit(f"torch_train_peer: {name}: op {op} is not supported")
        out = parse_dims(kv["out"])
        checks.append((len(layers) - 1, [out[2], out[0], out[1]] if len(out) == 3 else out))
    model = nn.Sequential(*layers)
    head = [m for m in model if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
    return model, checks


def check(name, model, checks, branch):
    """Fails unless the parameter count and every layer's output shape are ours."""
    n = sum(p.numel() for p in model.parameters())
    print(f"# {name}: parameters ours {branch['params']} torch {n}", flush=True)
    if n != branch["params"]:
        raise SystemExit(f"torch_train_peer: {name}: {n} parameters, ours has {branch['params']}")
    h, w, c = branch["in"]
    x = torch.zeros(1, c, h, w)
    with torch.no_grad():
        for i, m in enumerate(model):
            x = m(x)
            for at, want in checks:
                if at == i and list(x.shape[1:]) != want:
                    raise SystemExit(f"torch_train_peer: {name}: module {i} ({m}) gives {list(x.shape[1:])}, ours {want}")


def optimizer(model, kind):
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0.0}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=1e-2, momentum=0.9)
    return torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def time_steps(model, opt, x, y, warmup, steps):
    loss_fn = nn.BCEWithLogitsLoss()
    t, losses = {"step": [], "fwd": [], "bwd": [], "upd": []}, []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = loss_fn(model(x), y)
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        losses.append(loss.item())
        if i >= warmup:
            for k, v in (("step", t3 - t0), ("fwd", t1 - t0), ("bwd", t2 - t1), ("upd", t3 - t2)):
                t[k].append(v * 1e3)
    return t, losses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default="-", help="bench_train_step output ('-': stdin)")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    ap.add_argument("--variants", default="eager,channels_last")
    a = ap.parse_args()
    if a.batch < 1 or a.steps < 1 or a.warmup < 0:
        raise SystemExit("torch_train_peer: batch and steps must be >= 1, warmup >= 0")
    f = sys.stdin if a.layers == "-" else open(a.layers)
    branches = read_branches(f)
    if not branches:
        raise SystemExit("torch_train_peer: no 'branch' lines in the input (run bench_train_step first)")
    variants = [v for v in a.variants.split(",") if v]
    for v in variants:
        if v not in ("eager", "channels_last"):
            raise SystemExit(f"torch_train_peer: unknown variant {v}")
    for (model_name, cp), branch in branches.items():
        name = f"{model_name} chokepoint {cp}"
        h, w, c = branch["in"]
        g = torch.Generator().manual_seed(cp)
        x0 = torch.rand(a.batch, c, h, w, generator=g) * 6
        y = torch.randint(0, 2, (a.batch, 1), generator=g).float()
        model, checks = build(name, branch)
        check(name, model, checks, branch)
        for threads in (int(v) for v in a.threads.split(",")):
            torch.set_num_threads(threads)
            for variant in variants:
                torch.manual_seed(0)
                model, _ = build(name, branch)
                model.train()
                x = x0
                if variant == "channels_last":
                    model = model.to(memory_format=torch.channels_last)
                    x = x0.contiguous(memory_format=torch.channels_last)
                opt = optimizer(model, a.optimizer)
                t, losses = time_steps(model, opt, x, y, a.warmup, a.steps)
                med = {k: statistics.median(v) for k, v in t.items()}
                if not all(math.isfinite(l) for l in losses):
                    raise SystemExit(f"torch_train_peer: {name} {variant}: the loss is not finite")
                print(f"peer {model_name} {variant} {a.optimizer} {cp} {a.batch} {threads} {med['step']:.3f}"
                      f" {min(t['step']):.3f} {med['fwd']:.3f} {med['bwd']:.3f} {med['upd']:.3f}"
                      f" {a.batch * 1e3 / med['step']:.1f} {branch['params']} {losses[0]:.5f} {losses[-1]:.5f}",
                      flush=True)


if __name__ == "__main__":
    main()
