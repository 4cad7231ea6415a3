#!/usr/bin/python3
"""An alternative estimate of the event model's correlation r, checked against measurement
(docs/results.md, "Correlation"): per app, the r for which the model's chance of missing a
whole calibration event, (1 - p) c^(h-1) with c = (1 - p) + p r over the h samples of each
event, matches the number of calibration events missed, pooled over chokepoints; then the
mean |predicted - measured| F1 of bench/headline.sh's runs with the packages' r (the
trainer's lag-1 estimate) and with this one.

    bench/headline_fit_r.py OUT_DIR CP... (after bench/headline.sh OUT_DIR; it reads
    OUT_DIR/scores-cpC.jsonl: `mainstream run --scores` of every app pinned at chokepoint C
    and 5 fps on the calibration stream, see docs/results.md)
"""
import csv
import json
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import headline as h  # noqa: E402


def runs_of(present):
    ev, i = [], 0
    while i < len(present):
        if present[i]:
            j = i
            while j < len(present) and present[j]:
                j += 1
            ev.append((i, j))
            i = j
        else:
            i += 1
    return ev


def fit(rows, observed):
    def pred(r):
        return sum((1 - p) * ((1 - p) + p * r) ** (n - 1) if n > 0 else 1 for p, n in rows)
    if pred(1.0) < observed:
        return 1.0
    if pred(0.0) > observed:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pred(mid) < observed else (lo, mid)
    return lo


def main():
    if len(sys.argv) < 3:
        h.fail("headline_fit_r.py OUT_DIR CP...")
    out, cps = sys.argv[1], [int(c) for c in sys.argv[2:]]
    apps = open(os.path.join(out, "streams", "apps.txt")).read().split()
    scores = defaultdict(dict)
    for cp in cps:
        for line in open(os.path.join(out, f"scores-cp{cp}.jsonl")):
            o = json.loads(line)
            scores[(o["app"], cp)][o["frame"]] = o["score"] >= 0.5
    r_event, metas = {}, {}
    for app in apps:
        with open(os.path.join(out, "streams", f"calib.{app}.labels.csv")) as f:
            present = [row.split(",")[1].strip() == "1" for row in f.read().split("\n")[1:] if row]
        metas[app] = h.package_metadata(os.path.join(out, app + ".mpkg"))
        rows, missed = [], 0
        for cp in cps:
            sc = scores[(app, cp)]
            pos = [i for i in sc if present[i]]
            p = sum(sc[i] for i in pos) / max(1, len(pos))
            for a, b in runs_of(present):
                s = [sc[i] for i in range(a, b) if i in sc]
                rows.append((p, len(s)))
                missed += not any(s)
        r_event[app] = fit(rows, missed)
        print(f"{app}: {len(runs_of(present))} calibration events, {missed} missed over {len(cps)} chokepoints; "
              f"r lag-1 (package) {metas[app]['events']['correlation']:.3f}, r fitted to missed events "
              f"{r_event[app]:.3f}")
    for name in ("pinned.csv", "results.csv"):
        path = os.path.join(out, name)
        if not os.path.exists(path):
            continue
        per, groups = defaultdict(list), defaultdict(lambda: defaultdict(list))
        for r in csv.DictReader(open(path)):
            if not r["f1"]:
                continue
            cp, fps, m = int(r["chokepoint"]), float(r["planned_fps"]), float(r["f1"])
            alt = json.loads(json.dumps(metas[r["app"]]))
            alt["events"]["correlation"] = r_event[r["app"]]
            pinned = r["budget_fraction"] == h.PIN_BUDGET
            key = (r["budget_fraction"], r["apps"], r["policy"]) + ((cp, fps) if pinned else ())
            for v, meta in (("lag-1", metas[r["app"]]), ("fitted", alt)):
                e = h.predict(meta, cp, fps, 10.0, "mean", 2) - m
                per[v].append(abs(e))
                groups[key][v].append(e)
        print(f"{name}: mean |predicted - measured| F1 per app and run: " + ", ".join(
            f"{v} {h.mean(e):.3f}" for v, e in per.items()) + "; of the run's mean: " + ", ".join(
            f"{v} {h.mean([abs(h.mean(g[v])) for g in groups.values()]):.3f}" for v in per))


if __name__ == "__main__":
    main()
