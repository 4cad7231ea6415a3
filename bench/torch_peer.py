#!/usr/bin/python3
"""PyTorch peers for bench/run_backend.sh: the same networks as our TFLite models
(MobileNetV1 1.0_224, 0.5_160, 0.25_128 with 1001 classes; MobileNetV2 1.0_224), with
random weights (timing does not depend on the values), run in every fast way PyTorch
offers on a CPU. Each variant's output is checked against eager before it is timed.

Prints one line per measurement:
    peer <model> <variant> <precision> <batch> <threads> <median ms per frame> <fastest run's>
and '# ...' lines for checks and skipped variants.

Run with Debian's python3-torch (system /usr/bin/python3) and libopenblas0 installed.
usage: torch_peer.py [--runs R] [--warmup W] [--batches 1,8] [--threads 1,2]
                     [--models v1_224,v1_050,v1_025,v2] [--precisions fp32,int8]
                     [--variants eager,ts_optimize_for_inference,int8_onednn,...]
"""
import argparse
import copy
import statistics
import time

import torch
import torch.nn as nn


def conv_bn(cin, cout, k, stride, groups=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU6(inplace=False))
    return nn.Sequential(*layers)


class Head(nn.Module):
    """Average pool, 1x1 conv to 1001 logits, softmax: the TFLite models' classifier."""

    def __init__(self, cin):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(cin, 1001, 1)

    def forward(self, x):
        return torch.softmax(torch.flatten(self.fc(self.pool(x)), 1), dim=1)


def mobilenet_v1(alpha):
    c = lambda n: max(8, int(n * alpha))
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers, cin = [conv_bn(3, c(32), 3, 2)], c(32)
    for cout, s in cfg:
        layers += [conv_bn(cin, cin, 3, s, groups=cin), conv_bn(cin, c(cout), 1, 1)]
        cin = c(cout)
    return nn.Sequential(*layers, Head(cin))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn(cin, hidden, 1, 1)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, 1, relu=False)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


def mobilenet_v2():
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    layers, cin = [conv_bn(3, 32, 3, 2)], 32
    for t, cout, n, s in cfg:
        for i in range(n):
            layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
            cin = cout
    layers.append(conv_bn(cin, 1280, 1, 1))
    return nn.Sequential(*layers, Head(1280))


MODELS = {
    "v1_224": (lambda: mobilenet_v1(1.0), 224),
    "v1_050": (lambda: mobilenet_v1(0.5), 160),
    "v1_025": (lambda: mobilenet_v1(0.25), 128),
    "v2": (mobilenet_v2, 224),
}


def randomise(model):
    """Random but well-scaled batch-norm statistics, so activations neither vanish nor
    explode and the output checks mean something."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


def median_ms(fn, x, warmup, runs):
    with torch.inference_mode():
        for _ in range(warmup):
            fn(x)
        t = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn(x)
            t.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(t), min(t)


def rel_l2(a, b):
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def fp32_variants(model, x):
    """(name, callable, input) for every fp32 way of running model."""
    from torch.fx.experimental.optimization import fuse
    from torch.utils.mobile_optimizer import optimize_for_mobile

    out = [("eager", model, x)]
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    out.append(("channels_last", cl, x.contiguous(memory_format=torch.channels_last)))
    with torch.no_grad():
        scripted = torch.jit.script(copy.deepcopy(model))
        out.append(("ts_frozen", torch.jit.freeze(scripted), x))
        out.append(("ts_optimize_for_inference", torch.jit.optimize_for_inference(torch.jit.script(copy.deepcopy(model))), x))
        fused = fuse(copy.deepcopy(model))  # fold batch norm first: XNNPACK's own folding is wrong here
        out.append(("xnnpack", optimize_for_mobile(torch.jit.script(fused)), x))
    return out


def int8_variants(model, x):
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    out = []
    for engine in ("onednn", "qnnpack"):
        if engine not in torch.backends.quantized.supported_engines:
            print(f"# int8 {engine}: engine not built in", flush=True)
            continue
        torch.backends.quantized.engine = engine
        m = copy.deepcopy(model)
        prepared = prepare_fx(m, get_default_qconfig_mapping(engine), example_inputs=(x,))
        with torch.inference_mode():
            for _ in range(4):
                prepared(torch.rand_like(x) * 2 - 1)
        q = convert_fx(prepared)
        with torch.no_grad():
            q = torch.jit.freeze(torch.jit.trace(q, x))
        out.append((f"int8_{engine}", q, x, engine))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="v1_224,v1_050,v1_025,v2")
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--variants", default="", help="only these variants (comma list; default all)")
    a = ap.parse_args()
    torch.manual_seed(0)
    for name in a.models.split(","):
        build, res = MODELS[name]
        model = randomise(build())
        for batch in map(int, a.batches.split(",")):
            x = torch.rand(batch, 3, res, res) * 2 - 1
            with torch.inference_mode():
                ref = model(x)
            variants = []
            if "fp32" in a.precisions:
                variants += [(v, f, xi, None) for v, f, xi in fp32_variants(model, x)]
            if "int8" in a.precisions:
                variants += int8_variants(model, x)
            keep = set(a.variants.split(",")) if a.variants else None
            for variant, fn, xi, engine in variants:
                if keep is not None and variant not in keep:
                    continue
                if engine:
                    torch.backends.quantized.engine = engine
                with torch.inference_mode():
                    err = rel_l2(fn(xi).float(), ref)
                # fp32 variants must agree with eager; int8 ones only roughly (random
                # calibration), and a broken one is reported and skipped.
                limit = 1e-3 if engine is None else 0.5
                print(f"# {name} {variant} batch {batch}: rel L2 vs eager {err:.2g}", flush=True)
                if not err < limit:
                    print(f"# {name} {variant}: skipped, output differs from eager", flush=True)
                    continue
                for t in map(int, a.threads.split(",")):
                    torch.set_num_threads(t)
                    med, fastest = median_ms(fn, xi, a.warmup, a.runs)
                    prec = "int8" if engine else "fp32"
                    print(f"peer {name} {variant} {prec} {batch} {t} {med / batch:.4f} {fastest / batch:.4f}", flush=True)


if __name__ == "__main__":
    main()
