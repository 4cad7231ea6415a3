#!/usr/bin/env python3
"""The table of bench/run_cuda.sh: images/s of ours and of each PyTorch variant, and the
ratios, from the 'ours' and 'peer' lines of one or more logs of one run."""
import sys
ours, peers = {}, {}
for line in (l for path in sys.argv[1:] for l in open(path)):
    f = line.split()
    if f and f[0] == "ours":   # ours v1_224 prec batch graphs ms img/s
        ours.setdefault((f[2], int(f[3])), {})["graphs" if f[4] == "1" else "steps"] = float(f[6])
    elif f and f[0] == "peer":  # peer v1_224 variant prec batch ms img/s
        peers.setdefault((f[3], int(f[4])), {})[f[2]] = float(f[6])
names = ["eager", "channels_last", "cuda_graphs", "compile", "compile_cg"]
print("MobileNetV1 1.0_224, images/s (higher is better); ratios > 1 mean ours is faster")
print(f"{'prec':4} {'batch':>5} {'ours steps':>10} {'ours graph':>10} " + " ".join(f"{n:>13}" for n in names)
      + f" {'ours/eager':>10} {'ours/best':>9} best")
for (p, b), o in sorted(ours.items()):
    best_ours = max(o.values())
    pe = peers.get((p, b), {})
    cells = " ".join(f"{pe[n]:13.0f}" if n in pe else f"{'-':>13}" for n in names)
    bn, bv = max(pe.items(), key=lambda kv: kv[1]) if pe else ("-", float("nan"))
    eager = pe.get("eager", float("nan"))
    print(f"{p:4} {b:5d} {o.get('steps', float('nan')):10.0f} {o.get('graphs', float('nan')):10.0f} {cells}"
          f" {best_ours / eager:10.2f} {best_ours / bv:9.2f} {bn}")
