#!/usr/bin/env python3
"""The table of bench/run_cuda.sh: images/s of ours and of each PyTorch variant, and the
ratios, from the 'ours' and 'peer' lines of one or more logs of one run."""
import sys
ours, peers = {}, {}
for line in (l for path in sys.argv[1:] for l in open(path)):
    f = line.split()
    if f and f[0] == "ours":   # ours v1_224 prec batch graphs ms img/s
        mode = "graphs" if f[4] == "1" else "steps"
        if len(f) > 7 and f[7] == "nopipe":
            mode += " nopipe"
        ours.setdefault((f[2], int(f[3])), {})[mode] = float(f[6])
    elif f and f[0] == "peer":  # peer v1_224 variant prec batch ms img/s
        peers.setdefault((f[3], int(f[4])), {})[f[2]] = float(f[6])
names = ["eager", "channels_last", "cuda_graphs", "compile", "compile_cg"]
print("MobileNetV1 1.0_224, images/s (higher is better); ratios > 1 mean ours is faster")
print("ours: best of steps and graph launches; 'no pipe': MS_CUDA_PIPELINE=0 (input copy not overlapped)")
print(f"{'prec':4} {'batch':>5} {'ours':>8} {'no pipe':>8} " + " ".join(f"{n:>13}" for n in names)
      + f" {'ours/eager':>10} {'ours/best':>9} {'nopipe/best':>11} best")
for (p, b), o in sorted(ours.items()):
    piped = [v for k, v in o.items() if not k.endswith("nopipe")]
    unpiped = [v for k, v in o.items() if k.endswith("nopipe")]
    best_ours = max(piped) if piped else float("nan")
    best_nopipe = max(unpiped) if unpiped else float("nan")
    pe = peers.get((p, b), {})
    cells = " ".join(f"{pe[n]:13.0f}" if n in pe else f"{'-':>13}" for n in names)
    bn, bv = max(pe.items(), key=lambda kv: kv[1]) if pe else ("-", float("nan"))
    eager = pe.get("eager", float("nan"))
    print(f"{p:4} {b:5d} {best_ours:8.0f} {best_nopipe:8.0f} {cells}"
          f" {best_ours / eager:10.2f} {best_ours / bv:9.2f} {best_nopipe / bv:11.2f} {bn}")
