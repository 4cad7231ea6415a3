#!/usr/bin/env python3
"""PyTorch peer for bench/run_cuda.sh: MobileNetV1 1.0_224 (1001 classes, the network of
our TFLite model: bench/torch_peer.py's definition) on the GPU, batch norm folded into
the convolutions (what an inference deployment does, and what the TFLite weights
already are), random weights (timing does not depend on the values), in every fast way
PyTorch offers: eager NCHW, channels_last, CUDA graphs (channels_last, captured), and
torch.compile (inductor; 'reduce-overhead' adds CUDA graphs). Each variant's output is
checked against eager fp32 before it is timed.

A run is what our bench_cuda measures: random float32 NHWC input in page-locked host
memory copied to the GPU, the network, probabilities copied back to page-locked host
memory, and the wait. fp32 runs with TF32 off (cuDNN and cuBLAS), the same arithmetic as
our fp32 plans; fp16 is .half() weights and activations (fp32 accumulation in cuDNN).

Prints one line per measurement:
    peer v1_224 <variant> <precision> <batch> <median ms per batch> <images/s>
and '# ...' lines for checks and skipped variants.
usage: torch_cuda_peer.py [--runs R] [--warmup W] [--batches 1,8,64,256]
                          [--precisions fp32,fp16] [--variants eager,channels_last,cuda_graphs,compile,compile_cg]
"""
import argparse
import copy
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import mobilenet_v1, randomise  # noqa: E402


def timed(step, warmup, runs):
    for _ in range(warmup):
        step()
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        t.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(t)


def make_step(variant, model, x_host, out_host, dtype):
    """A callable doing one run, and the function giving its last output."""
    cl = variant != "eager"
    m = model
    if variant.startswith("compile"):
        mode = "reduce-overhead" if variant == "compile_cg" else "default"
        m = torch.compile(model, mode=mode)

    def prep(x):  # host NHWC float32 on the device -> the model's input
        x = x.permute(0, 3, 1, 2)  # NCHW view with channels_last strides
        x = x.to(dtype)
        return x if cl else x.contiguous()

    if variant == "cuda_graphs":
        static_in = torch.empty(x_host.shape, device="cuda")
        static_in.copy_(x_host)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                m(prep(static_in))
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = m(prep(static_in)).float()

        def step():
            static_in.copy_(x_host, non_blocking=True)
            graph.replay()
            out_host.copy_(static_out, non_blocking=True)
            torch.cuda.current_stream().synchronize()

        return step

    def step():
        x = x_host.to("cuda", non_blocking=True)
        y = m(prep(x)).float()
        out_host.copy_(y, non_blocking=True)
        torch.cuda.current_stream().synchronize()

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batches", default="1,8,64,256")
    ap.add_argument("--precisions", default="fp32,fp16")
    ap.add_argument("--variants", default="eager,channels_last,cuda_graphs,compile,compile_cg")
    a = ap.parse_args()
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    from torch.fx.experimental.optimization import fuse

    base = fuse(randomise(mobilenet_v1(1.0))).cuda().eval()
    print(f"# torch {torch.__version__}, {torch.cuda.get_device_name()}, cudnn {torch.backends.cudnn.version()}",
          flush=True)
    for prec in a.precisions.split(","):
        dtype = torch.float16 if prec == "fp16" else torch.float32
        for variant in a.variants.split(","):
            model = copy.deepcopy(base).to(dtype)  # base stays fp32 NCHW: the reference
            if variant != "eager":
                model = model.to(memory_format=torch.channels_last)
            for batch in map(int, a.batches.split(",")):
                x_host = (torch.rand(batch, 224, 224, 3) * 2 - 1).pin_memory()
                out_host = torch.empty(batch, 1001).pin_memory()
                try:
                    with torch.inference_mode():
                        ref = base(x_host.cuda().permute(0, 3, 1, 2).contiguous()).float().cpu()
                        t0 = time.perf_counter()
                        step = make_step(variant, model, x_host, out_host, dtype)
                        step()
                        setup = time.perf_counter() - t0
                        err = float(torch.linalg.norm(out_host - ref) / torch.linalg.norm(ref))
                        print(f"# {variant} {prec} batch {batch}: rel L2 vs eager fp32 {err:.2g}, setup {setup:.1f} s",
                              flush=True)
                        if not err < (1e-3 if prec == "fp32" else 3e-2):
                            print(f"# {variant} {prec} batch {batch}: skipped, output differs from eager", flush=True)
                            continue
                        med = timed(step, a.warmup, a.runs)
                except Exception as e:  # a variant PyTorch cannot build here is reported, not fatal
                    print(f"# {variant} {prec} batch {batch}: failed: {type(e).__name__}: {e}"[:300], flush=True)
                    continue
                print(f"peer v1_224 {variant} {prec} {batch} {med:.4f} {batch * 1e3 / med:.1f}", flush=True)


if __name__ == "__main__":
    main()
