#!/usr/bin/python3
"""Helpers of bench/headline.sh (Python standard library only).

    headline.py scenario --profile P --budget B --stream-fps S [--x-vote X] APP.mpkg...
        prints the scheduler scenario (docs/scheduler.md) of those packages: their curves
        and event statistics (as the runner reads them), the profile's unit costs, the
        budget; `mainstream schedule --compat` on it gives the original model's plan and
        predicted mean F1 for the same apps.
    headline.py analyse RESULTS.csv PKG_DIR
        for every (run, app) row, the event model's prediction at the runner's plan under
        model variants (the default, the length distribution instead of its mean, the
        original's compat arithmetic, the correlation rescaled to the sampling stride),
        against the measured F1: mean |predicted - measured| per variant and policy. The
        variants are a replica of src/sched/event.c for this analysis only (the "mean"
        variant is checked against the runner's predicted_f1 on every row).
    headline.py report RESULTS.csv OUT_DIR
        writes OUT_DIR/summary.csv, OUT_DIR/table.md and OUT_DIR/headline.svg: per budget,
        number of apps and policy, the mean measured event F1, the mean frame-level
        false-alarm fraction, the mean predicted F1 (default model, at the runner's plan),
        the compat model's predicted mean F1 (its own plan) and the mean |predicted -
        measured| F1 over the apps; the figure draws measured (solid) and predicted
        (dashed) mean F1 against the number of apps, one panel per budget.
"""

import csv
import json
import math
import os
import struct
import sys
from collections import defaultdict

POLICIES = ["mainstream", "greedy", "maxsharing", "nosharing"]
COLOURS = {"mainstream": "#d62728", "greedy": "#ff7f0e", "maxsharing": "#1f77b4", "nosharing": "#2ca02c"}


def fail(msg):
    sys.exit("headline.py: " + msg)


def package_metadata(path):
    """The "mainstream" metadata of an M-Package (docs/formats.md)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            fail(f"{path}: not an M-Package (shorter than 8 bytes)")
        (n,) = struct.unpack("<Q", head)
        if n > 1 << 30:
            fail(f"{path}: header length {n} is too large")
        header = json.loads(f.read(n))
    try:
        return json.loads(header["__metadata__"]["mainstream"])
    except (KeyError, TypeError, ValueError) as e:
        fail(f"{path}: __metadata__.mainstream: {e}")


def cmd_scenario(args):
    opts, paths, i = {"--x-vote": "1"}, [], 0
    while i < len(args):
        if args[i] in ("--profile", "--budget", "--stream-fps", "--x-vote") and i + 1 < len(args):
            opts[args[i]] = args[i + 1]
            i += 2
        else:
            paths.append(args[i])
            i += 1
    if not paths or any(k not in opts for k in ("--profile", "--budget", "--stream-fps")):
        fail("scenario --profile P --budget B --stream-fps S [--x-vote X] APP.mpkg...")
    apps = []
    for p in paths:
        m = package_metadata(p)
        ev = m.get("events", {})
        if not ev.get("known"):
            fail(f"{p}: the package has no event statistics (train it with --val-video)")
        apps.append({"name": m["app"], "event_length_ms": ev["length_mean_ms"],
                     "event_frequency": ev["frequency"], "correlation": ev["correlation"],
                     "x_vote": int(opts["--x-vote"]),
                     "curve": [{"chokepoint": c["chokepoint"], "tpr": c["tpr"], "fpr": c["fpr"]} for c in m["curve"]]})
    json.dump({"stream_fps": float(opts["--stream-fps"]), "budget": float(opts["--budget"]),
               "profile": os.path.abspath(opts["--profile"]), "apps": apps}, sys.stdout)
    print()


def miss(p, d, r, stride):
    """src/sched/event.c plain_miss (x = 1)."""
    c = (1 - p) + p * r
    if d < stride:
        return 1 - (d / stride) * p
    mod = math.fmod(d, stride)
    return ((stride - mod) / stride * (c ** (math.floor(d / stride) - 1) * (1 - p)) +
            mod / stride * (c ** (math.ceil(d / stride) - 1) * (1 - p)))


def f1_of(recall, neg_recall, f):
    tp, fp = f * recall, (1 - f) * neg_recall
    precision = 1.0 if tp + fp == 0 else tp / (tp + fp)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def predict(meta, cp, fps, stream_fps, variant, frame_step):
    ev = meta["events"]
    curve = {c["chokepoint"]: (c["tpr"], c["fpr"]) for c in meta["curve"]}
    p, q = curve[cp]
    r, f, s = ev["correlation"], ev["frequency"], stream_fps / fps
    if variant.endswith("+rstride"):  # r was measured between samples frame_step frames apart
        r = r ** max(1.0, s / frame_step)
    if variant.startswith("compat"):
        cps = sorted(curve)
        tp_, fp_ = curve[cps[-1]]
        fixed = {}
        for c in reversed(cps):
            if tp_ > curve[c][0]:
                fixed[c] = (tp_, fp_)
            else:
                fixed[c] = curve[c]
            tp_, fp_ = fixed[c]
        p, q = fixed[cp]
        d = ev["length_mean_ms"] / 1000.0 * fps
        return f1_of(1 - miss(p, d, r, s), 1 - miss(q, d, r, s), f)
    lengths = ev["lengths_ms"] if variant.startswith("dist") else [ev["length_mean_ms"]]
    ds = [L / 1000.0 * stream_fps for L in lengths]
    recall = 1 - sum(miss(p, d, r, s) for d in ds) / len(ds)
    neg = 1 - sum(miss(q, d, r, s) for d in ds) / len(ds)
    return f1_of(recall, neg, f)


PIN_BUDGET = "1000"  # bench/headline.sh's pinned runs (budget ample)
VARIANTS = ["mean", "dist", "compat", "mean+rstride", "dist+rstride"]


def cmd_analyse(args):
    if len(args) < 2:
        fail("analyse RESULTS.csv PKG_DIR [STREAM_FPS [FRAME_STEP]]")
    stream_fps = float(args[2]) if len(args) > 2 else 10.0
    frame_step = float(args[3]) if len(args) > 3 else 2.0
    with open(args[0]) as f:
        rows = list(csv.DictReader(f))
    metas, err, groups = {}, defaultdict(list), defaultdict(lambda: defaultdict(list))
    worst = 0.0
    for r in rows:
        if not r["f1"]:
            continue
        if r["app"] not in metas:
            metas[r["app"]] = package_metadata(os.path.join(args[1], r["app"] + ".mpkg"))
        cp, fps = int(r["chokepoint"]), float(r["planned_fps"])
        for v in VARIANTS:
            pred = predict(metas[r["app"]], cp, fps, stream_fps, v, frame_step)
            if v == "mean":
                worst = max(worst, abs(pred - float(r["pred_f1"])))
            err[(r["policy"], v)].append(pred - float(r["f1"]))
            err[("all", v)].append(pred - float(r["f1"]))
            pinned = r["budget_fraction"] == PIN_BUDGET  # one run per (chokepoint, rate) pinned
            key = (r["budget_fraction"], r["apps"], r["policy"]) + ((cp, fps) if pinned else ())
            groups[key][v].append(pred - float(r["f1"]))
    print(f"replica check: largest |mean variant - runner's predicted_f1| = {worst:.2e}")
    print("| policy | " + " | ".join(VARIANTS) + " |")
    print("|---|" + "---|" * len(VARIANTS))
    for pol in POLICIES + ["all"]:
        if (pol, "mean") in err:
            print(f"| {pol} | " + " | ".join(
                f"{mean([abs(e) for e in err[(pol, v)]]):.3f} ({mean(err[(pol, v)]):+.3f})" for v in VARIANTS) + " |")
    print("cells: mean |predicted - measured| F1 per (run, app) row (mean signed error)")
    print("| mean over runs of |mean predicted - mean measured| F1 (the apps of one run averaged) | "
          + " | ".join(f"{v} {mean([abs(mean(g[v])) for g in groups.values()]):.3f}" for v in VARIANTS) + " |")


def mean(v):
    return sum(v) / len(v) if v else float("nan")


def summarise(rows):
    groups = defaultdict(list)
    for r in rows:
        if not r["f1"]:  # the policy had no schedule within the budget
            continue
        groups[(float(r["budget_fraction"]), int(r["apps"]), r["policy"])].append(r)
    out = []
    for (b, n, p), rs in sorted(groups.items()):
        f1 = [float(r["f1"]) for r in rs]
        pred = [float(r["pred_f1"]) for r in rs]
        out.append({"budget_fraction": b, "budget": float(rs[0]["budget"]), "apps": n, "policy": p,
                    "f1": mean(f1), "false_alarm": mean([float(r["false_alarm_fraction"]) for r in rs]),
                    "recall": mean([float(r["recall"]) for r in rs]),
                    "precision": mean([float(r["precision"]) for r in rs]),
                    "pred_f1": mean(pred), "compat_pred_f1": float(rs[0]["compat_pred_f1"] or "nan"),
                    "abs_err": mean([abs(a - m) for a, m in zip(pred, f1)]),
                    "events": sum(int(r["labelled"]) for r in rs),
                    "plan": " ".join(f"{r['chokepoint']}@{float(r['planned_fps']):g}" for r in rs)})
    return out


def table(summary):
    lines = []
    for b in sorted({s["budget_fraction"] for s in summary}):
        rows = [s for s in summary if s["budget_fraction"] == b]
        lines.append(f"\nBudget {b:g} x the full network on every frame ({rows[0]['budget']:.3f} ms/s). "
                     "Cells: measured mean event F1 / false-alarm fraction / predicted (default) / "
                     "predicted (compat, its own plan).\n")
        pols = [p for p in POLICIES if any(s["policy"] == p for s in rows)]
        lines.append("| apps | events | " + " | ".join(pols) + " |")
        lines.append("|---:|---:|" + "---|" * len(pols))
        for n in sorted({s["apps"] for s in rows}):
            cells, events = [], 0
            best = max(s["f1"] for s in rows if s["apps"] == n)
            for p in pols:
                s = next((s for s in rows if s["apps"] == n and s["policy"] == p), None)
                if s is None:
                    cells.append("no schedule fits")
                    continue
                events = s["events"]
                m = f"**{s['f1']:.3f}**" if s["f1"] == best else f"{s['f1']:.3f}"
                cells.append(f"{m} / {s['false_alarm']:.3f} / {s['pred_f1']:.3f} / {s['compat_pred_f1']:.3f}")
            lines.append(f"| {n} | {events} | " + " | ".join(cells) + " |")
        lines.append("\nMean |predicted - measured| event F1 (default model), per app and run: " + ", ".join(
            f"{p} {mean([s['abs_err'] for s in rows if s['policy'] == p]):.3f}" for p in pols) +
            "; of the run's mean F1 (apps averaged first): " + ", ".join(
            f"{p} {mean([abs(s['pred_f1'] - s['f1']) for s in rows if s['policy'] == p]):.3f}" for p in pols) + ".")
    return "\n".join(lines) + "\n"


def svg(summary):
    budgets = sorted({s["budget_fraction"] for s in summary})
    ns = sorted({s["apps"] for s in summary})
    pw, ph, ml, mt, mb = 360, 260, 50, 30, 40
    width, height = ml + len(budgets) * (pw + 30) + 130, mt + ph + mb
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">', f'<rect width="{width}" height="{height}" fill="white"/>']
    n0, n1 = min(ns), max(ns)

    def x(n, k):
        return ml + k * (pw + 30) + (pw * (n - n0) / (n1 - n0) if n1 > n0 else pw / 2)

    def y(v):
        return mt + ph * (1 - v)

    for k, b in enumerate(budgets):
        x0 = ml + k * (pw + 30)
        out.append(f'<rect x="{x0}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
        out.append(f'<text x="{x0 + pw / 2}" y="{mt - 10}" text-anchor="middle">budget {b:g} x full network '
                   f'per frame</text>')
        for v in (0, 0.25, 0.5, 0.75, 1):
            out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{y(v)}" y2="{y(v)}" stroke="#eee"/>')
            out.append(f'<text x="{x0 - 5}" y="{y(v) + 4}" text-anchor="end">{v:g}</text>')
        for n in ns:
            out.append(f'<text x="{x(n, k)}" y="{mt + ph + 15}" text-anchor="middle">{n}</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{mt + ph + 32}" text-anchor="middle">apps on the stream</text>')
        for p in ["greedy", "nosharing", "maxsharing", "mainstream"]:  # mainstream drawn last, on top
            pts = sorted((s["apps"], s["f1"], s["pred_f1"]) for s in summary
                         if s["budget_fraction"] == b and s["policy"] == p)
            if not pts:
                continue
            for idx, dash in ((1, ""), (2, ' stroke-dasharray="5,4"')):
                path = " ".join(f"{x(q[0], k):.1f},{y(q[idx]):.1f}" for q in pts)
                out.append(f'<polyline points="{path}" fill="none" stroke="{COLOURS[p]}" stroke-width="2"{dash}/>')
    out.append(f'<text x="14" y="{mt + ph / 2}" transform="rotate(-90 14 {mt + ph / 2})" text-anchor="middle">'
               'mean event F1</text>')
    lx = ml + len(budgets) * (pw + 30)
    for i, p in enumerate(POLICIES):
        yy = mt + 15 + 18 * i
        out.append(f'<line x1="{lx}" x2="{lx + 25}" y1="{yy}" y2="{yy}" stroke="{COLOURS[p]}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 30}" y="{yy + 4}">{p}</text>')
    yy = mt + 15 + 18 * len(POLICIES) + 10
    out.append(f'<line x1="{lx}" x2="{lx + 25}" y1="{yy}" y2="{yy}" stroke="#000" stroke-width="2"/>'
               f'<text x="{lx + 30}" y="{yy + 4}">measured</text>')
    out.append(f'<line x1="{lx}" x2="{lx + 25}" y1="{yy + 18}" y2="{yy + 18}" stroke="#000" stroke-width="2" '
               f'stroke-dasharray="5,4"/><text x="{lx + 30}" y="{yy + 22}">predicted</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def cmd_report(args):
    if len(args) != 2:
        fail("report RESULTS.csv OUT_DIR")
    with open(args[0]) as f:
        rows = list(csv.DictReader(f))
    summary = summarise(rows)
    if not summary:
        print(f"headline.py: {args[0]}: no measured runs, no table")
        return
    keys = list(summary[0].keys())
    write(os.path.join(args[1], "summary.csv"), ",".join(keys) + "\n" + "".join(
        ",".join(f"{s[k]:.4f}" if isinstance(s[k], float) else str(s[k]) for k in keys) + "\n" for s in summary))
    write(os.path.join(args[1], "table.md"), table(summary))
    write(os.path.join(args[1], "headline.svg"), svg(summary))


def main():
    cmds = {"scenario": cmd_scenario, "analyse": cmd_analyse, "report": cmd_report}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        fail("scenario ... | analyse ... | report ... (see the top of this file)")
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
