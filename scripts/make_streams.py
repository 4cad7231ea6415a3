#!/usr/bin/python3
"""Builds labelled multi-app streams from ../shared/data for the headline experiment.

Nothing it writes belongs in the repository: streams, labels and training-set links go
to OUT (docs/results.md). Debian packages only: /usr/bin/python3 with python3-numpy and
python3-pil, and the ffmpeg command (scripts/setup.sh installs them).

    scripts/make_streams.py images --out DIR [--seed 1] [--apps 10] [--minutes 20]
                                   [--calib-minutes 10] [--fps 10] [--size 160]
                                   [--train-pos 40] [--train-neg 60] [--rate-scale 1]
    scripts/make_streams.py videos --out DIR [--seed 1] [--minutes 10]

images: every app is a picture class (flowers17 classes, cats, dogs, vehicles). A stream
is a sequence of scenes, each showing one real picture for a few seconds with per-frame
variation (the camera drifts and zooms slowly, exposure breathes, sensor noise on every
frame); hard cuts between scenes. A scene of a picture of app A's class is one event of
A; background scenes show ImageNet-sample pictures (dogs, cats, vehicles and daisies
left out), vehicles/non-vehicle crops and the flowers17 classes no app uses; pictures of
the other apps are negatives for A as they are in the stream. Every app has its own
event length distribution and rate (see APPS), the same in the test and calibration
streams; events never touch (at least MIN_GAP_S of background between scenes of events).
Pictures are split per class into disjoint train / calib / test parts by their sorted
order (contiguous blocks: vehicles/ holds near-duplicate frames of the same car next to
each other), so a picture shown in a stream is never trained on.

Writes into OUT:
  test.mp4, calib.mp4                    the streams (H.264, SIZE x SIZE, FPS)
  test.APP.labels.csv, calib.APP.labels.csv
                                         "frame,present" for every frame (what
                                         `mainstream score-events` and `train
                                         --val-labels` read)
  train/APP/pos/, train/APP/neg/         the training pictures (symbolic links)
  apps.txt                               the apps in order, one per line
  manifest.json                          seed, settings, per app: class, source, length
                                         distribution, rate; per stream: events per app,
                                         mean length, frequency; scenes (first/last
                                         frame, picture, app or null)

videos: the shared labelled videos (person.mp4, car.mp4) are cut at their label
boundaries into event and background clips; a stream per video splices clips drawn at
random (events whole, backgrounds trimmed to 2-8 s) into a long stream at the video's
own rate, with its label file: real motion, real temporal correlation. The first 60%
of each video's clips (by time) make the calibration stream, the rest the test stream,
so the two never share a clip.
  video-APP-test.mp4, video-APP-calib.mp4 (+ .labels.csv)

Deterministic: the same seed and settings give the same frames (numpy's PCG64 from the
seed; ffmpeg encodes with -threads 1).
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

MIN_GAP_S = 1.0
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp")

# name, dataset folder (under DATA), class folder, event length distribution
# (kind, a, b: uniform a..b s; lognormal with median a s and sigma b, clipped to
# [0.6, 12] s), events per minute in the streams.
APPS = [
    ("sunflower", "flowers17", "sunflower", ("uniform", 2.0, 6.0), 1.0),
    ("cat", "cats_dogs", "cat", ("uniform", 1.0, 3.0), 1.2),
    ("vehicle", "vehicles", "vehicle", ("lognormal", 3.0, 0.6), 1.0),
    ("daisy", "flowers17", "daisy", ("uniform", 4.0, 10.0), 0.6),
    ("dog", "cats_dogs", "dog", ("uniform", 1.0, 4.0), 1.0),
    ("tulip", "flowers17", "tulip", ("lognormal", 2.0, 0.5), 1.2),
    ("iris", "flowers17", "iris", ("uniform", 2.0, 8.0), 0.8),
    ("pansy", "flowers17", "pansy", ("uniform", 1.0, 2.0), 1.5),
    ("dandelion", "flowers17", "dandelion", ("lognormal", 4.0, 0.4), 0.7),
    ("daffodil", "flowers17", "daffodil", ("uniform", 3.0, 5.0), 1.0),
    ("crocus", "flowers17", "crocus", ("uniform", 1.5, 6.0), 0.9),
    ("bluebell", "flowers17", "bluebell", ("lognormal", 2.5, 0.7), 0.9),
]
# Background pictures besides ImageNet-sample: flowers17 classes no app uses, road crops.
BACKGROUND_FLOWERS = ["buttercup", "colts_foot", "cowslip", "fritillary", "lily_valley", "snowdrop",
                      "tigerlily", "windflower"]
# (non-vehicle road crops: at most 100 per part, so that they do not crowd out the rest.)
# ImageNet-sample classes left out of the background (1001-way indices): dogs, wolves,
# foxes, cats (152-294), and any label naming a vehicle or a daisy.
IMAGENET_EXCLUDED = range(152, 295)
VEHICLE_WORDS = re.compile(r"\b(car|cab|jeep|wagon|limousine|convertible|racer|ambulance|minivan|minibus|"
                           r"model t|tractor|trolleybus|streetcar|moped|scooter|go-kart|golfcart|tank|bike|"
                           r"bicycle|tandem|engine|truck|van|bus|trailer|snowplow|forklift|harvester|"
                           r"police|pickup|recreational vehicle|motor|daisy|tricycle|unicycle|locomotive)\b")
# Parts of every class's sorted pictures: the first TRAIN_PART train, the next CALIB_PART
# calibrate, the rest test. A dataset with many pictures uses at most CAP per part.
TRAIN_PART, CALIB_PART = 0.5, 0.2
CAP = 400


def fail(msg):
    sys.exit("make_streams: " + msg)


def list_pictures(folder):
    if not os.path.isdir(folder):
        fail(f"{folder}: no such folder (is ../shared/data there?)")
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXT))
    if not names:
        fail(f"{folder}: no pictures")
    return [os.path.join(folder, f) for f in names]


def split(paths, cap=CAP):
    """Disjoint train / calib / test blocks of a sorted list, at most cap pictures each."""
    n = len(paths)
    a, b = int(n * TRAIN_PART), int(n * (TRAIN_PART + CALIB_PART))
    return {"train": paths[:a][:cap], "calib": paths[a:b][:cap], "test": paths[b:][:cap]}


def imagenet_background(data):
    folder = os.path.join(data, "imagenet-sample")
    labels_path = os.path.join(data, "models", "imagenet_labels.txt")
    with open(labels_path) as f:
        names = [line.strip().lower() for line in f]
    keep = []
    with open(os.path.join(folder, "labels.csv")) as f:
        rows = f.read().split("\n")
    if not rows or rows[0].strip() != "file,class":
        fail(f"{folder}/labels.csv: expected the header \"file,class\"")
    for i, row in enumerate(rows[1:], start=2):
        if not row.strip():
            continue
        parts = row.strip().split(",")
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) >= len(names):
            fail(f"{folder}/labels.csv: line {i}: expected \"file,class\" with a class index below {len(names)}")
        c = int(parts[1])
        if c in IMAGENET_EXCLUDED or VEHICLE_WORDS.search(names[c]):
            continue
        keep.append(os.path.join(folder, parts[0]))
    return sorted(keep)


def picture_pools(data, apps):
    """Per app and for the background: {"train": [...], "calib": [...], "test": [...]}."""
    pools = {}
    for name, ds, cls, _, _ in apps:
        pools[name] = split(list_pictures(os.path.join(data, ds, cls)))
    bg = [split(imagenet_background(data)), split(list_pictures(os.path.join(data, "vehicles", "non-vehicle")), cap=100)]
    bg += [split(list_pictures(os.path.join(data, "flowers17", c))) for c in BACKGROUND_FLOWERS]
    pools[None] = {part: [p for b in bg for p in b[part]] for part in ("train", "calib", "test")}
    return pools


def event_length(rng, dist):
    kind, a, b = dist
    if kind == "uniform":
        return float(rng.uniform(a, b))
    return float(np.clip(a * math.exp(b * rng.standard_normal()), 0.6, 12.0))


def compose(rng, apps, seconds, fps, rate_scale):
    """Scenes [(frames, app or None)] for a stream of about `seconds`: each app's events
    (count = rate x minutes, lengths from its distribution) in random order, separated by
    background gaps of at least MIN_GAP_S split into scenes of 2-6 s."""
    events = []
    for name, _, _, dist, rate in apps:
        count = max(1, int(round(rate * rate_scale * seconds / 60.0)))
        events += [(max(1, int(round(event_length(rng, dist) * fps))), name) for _ in range(count)]
    order = rng.permutation(len(events))
    events = [events[i] for i in order]
    total = int(round(seconds * fps))
    busy = sum(n for n, _ in events)
    min_gap = int(math.ceil(MIN_GAP_S * fps))
    spare = total - busy - min_gap * (len(events) + 1)
    if spare < 0:
        fail(f"the events need {busy / fps:.0f} s of a {seconds:.0f} s stream and the gaps between them "
             f"{min_gap * (len(events) + 1) / fps:.0f} s: lower --rate-scale or raise --minutes")
    weights = rng.dirichlet(np.ones(len(events) + 1))
    gaps = [min_gap + int(w * spare) for w in weights]
    scenes = []
    for i, gap in enumerate(gaps):
        while gap > 0:  # background scenes of 2-6 s fill the gap
            n = min(gap, int(rng.uniform(2, 6) * fps))
            if gap - n < min_gap and gap - n > 0:
                n = gap
            scenes.append((n, None))
            gap -= n
        if i < len(events):
            scenes.append(events[i])
    return scenes


class Picker:
    """Draws pictures of a part without repeating one until all have been used."""

    def __init__(self, rng, paths):
        self.rng, self.paths, self.queue = rng, paths, []

    def next(self):
        if not self.queue:
            self.queue = [self.paths[i] for i in self.rng.permutation(len(self.paths))]
        return self.queue.pop()


def load_scene_picture(path, size):
    try:
        im = Image.open(path).convert("RGB")
    except OSError as e:
        fail(f"{path}: cannot read the picture: {e}")
    scale = size * 1.25 / min(im.size)  # room for drift and zoom
    return im.resize((max(size, round(im.size[0] * scale)), max(size, round(im.size[1] * scale))),
                     Image.BILINEAR)


def render_scene(rng, im, frames, size):
    """Frames of one scene as uint8 arrays: a slowly drifting, zooming crop of the
    picture, breathing exposure, sensor noise."""
    w, h = im.size
    zoom0, zoom1 = rng.uniform(0.8, 1.0, 2)  # crop side / (short side of the picture)
    short = min(w, h)
    cx0, cy0, cx1, cy1 = rng.uniform(0.35, 0.65, 4)
    gain0, gain1 = rng.uniform(0.75, 1.25, 2)
    phase, period = rng.uniform(0, 2 * math.pi), rng.uniform(1.5, 4.0)
    sigma = rng.uniform(2.0, 7.0)
    for i in range(frames):
        t = i / max(1, frames - 1)
        side = short * (zoom0 + (zoom1 - zoom0) * t)
        cx = (cx0 + (cx1 - cx0) * t) * w
        cy = (cy0 + (cy1 - cy0) * t) * h
        x0 = min(max(0.0, cx - side / 2), w - side)
        y0 = min(max(0.0, cy - side / 2), h - side)
        crop = im.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side))
        gain = (gain0 + (gain1 - gain0) * t) * (1 + 0.05 * math.sin(phase + 2 * math.pi * i / (period * 10)))
        f = np.asarray(crop, dtype=np.float32) * gain + rng.normal(0, sigma, (size, size, 3)).astype(np.float32)
        yield np.clip(f + 0.5, 0, 255).astype(np.uint8)


def encoder(path, size, fps):
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}",
           "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", str(int(fps * 2)),
           "-pix_fmt", "yuv420p", "-threads", "1", path]
    try:
        return subprocess.Popen(cmd, stdin=subprocess.PIPE)
    except OSError as e:
        fail(f"cannot run ffmpeg ({e}): install it (scripts/setup.sh)")


def write_labels(path, present):
    with open(path + ".tmp", "w") as f:
        f.write("frame,present\n")
        f.writelines(f"{i},{int(v)}\n" for i, v in enumerate(present))
    os.replace(path + ".tmp", path)


def write_stream(out, stem, rng, scenes, pools, part, apps, size, fps):
    pickers = {k: Picker(rng, pools[k][part]) for k in pools}
    tmp = os.path.join(out, stem + ".tmp.mp4")
    enc = encoder(tmp, size, fps)
    frame, listing = 0, []
    for n, app in scenes:
        path = pickers[app].next()
        for f in render_scene(rng, load_scene_picture(path, size), n, size):
            enc.stdin.write(f.tobytes())
        listing.append({"first": frame, "last": frame + n - 1, "app": app, "picture": path})
        frame += n
    enc.stdin.close()
    if enc.wait():
        fail(f"ffmpeg failed writing {tmp}")
    os.replace(tmp, os.path.join(out, stem + ".mp4"))
    summary = {"frames": frame, "seconds": frame / fps, "apps": {}}
    for name, *_ in apps:
        present = np.zeros(frame, dtype=bool)
        lengths = []
        for s in listing:
            if s["app"] == name:
                present[s["first"]:s["last"] + 1] = True
                lengths.append((s["last"] - s["first"] + 1) / fps)
        write_labels(os.path.join(out, f"{stem}.{name}.labels.csv"), present)
        summary["apps"][name] = {"events": len(lengths), "mean_length_s": float(np.mean(lengths)) if lengths else 0,
                                 "frequency": float(present.mean())}
    summary["scenes"] = listing
    return summary


def link_training(out, pools, apps, rng, n_pos, n_neg):
    """train/APP/pos: n_pos training pictures of the app's class; train/APP/neg: n_neg
    drawn from the other apps' and the background's training pictures (half each)."""
    root = os.path.join(out, "train")
    shutil.rmtree(root, ignore_errors=True)
    for name, *_ in apps:
        pos = pools[name]["train"][:n_pos]
        others = [p for o, *_ in apps if o != name for p in pools[o]["train"]]
        bg = pools[None]["train"]
        k_other = min(len(others), n_neg // 2)
        neg = [others[i] for i in rng.choice(len(others), k_other, replace=False)]
        neg += [bg[i] for i in rng.choice(len(bg), min(len(bg), n_neg - k_other), replace=False)]
        for kind, paths in (("pos", pos), ("neg", neg)):
            d = os.path.join(root, name, kind)
            os.makedirs(d)
            for i, p in enumerate(paths):
                os.symlink(p, os.path.join(d, f"{i:04d}-{os.path.basename(os.path.dirname(p))}-"
                                              f"{os.path.basename(p)}"))


def cmd_images(a):
    if not 1 <= a.apps <= len(APPS):
        fail(f"--apps: between 1 and {len(APPS)}")
    apps = APPS[:a.apps]
    pools = picture_pools(a.data, apps)
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    manifest = {"seed": a.seed, "fps": a.fps, "size": a.size, "rate_scale": a.rate_scale,
                "apps": [{"name": n, "dataset": ds, "class": c, "length": list(d), "events_per_minute": r}
                         for n, ds, c, d, r in apps],
                "pictures": {str(k): {p: len(v) for p, v in pools[k].items()} for k in pools}}
    link_training(a.out, pools, apps, np.random.default_rng([a.seed, 1]), a.train_pos, a.train_neg)
    for stem, minutes, seed in (("calib", a.calib_minutes, 2), ("test", a.minutes, 3)):
        srng = np.random.default_rng([a.seed, seed])
        scenes = compose(srng, apps, minutes * 60.0, a.fps, a.rate_scale)
        manifest[stem] = write_stream(a.out, stem, srng, scenes, pools, stem, apps, a.size, a.fps)
        s = manifest[stem]
        print(f"{stem}.mp4: {s['frames']} frames, {sum(v['events'] for v in s['apps'].values())} events")
    with open(os.path.join(a.out, "apps.txt"), "w") as f:
        f.writelines(n + "\n" for n, *_ in apps)
    with open(os.path.join(a.out, "manifest.json.tmp"), "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(os.path.join(a.out, "manifest.json.tmp"), os.path.join(a.out, "manifest.json"))


# --- video streams ---------------------------------------------------------------------

def read_labels(path):
    with open(path) as f:
        rows = f.read().split("\n")
    if not rows or rows[0].strip() != "frame,present":
        fail(f"{path}: line 1: expected the header \"frame,present\"")
    out = []
    for i, row in enumerate(rows[1:], start=2):
        if not row.strip():
            continue
        parts = row.strip().split(",")
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in ("0", "1") or int(parts[0]) != len(out):
            fail(f"{path}: line {i}: expected \"frame,present\" for frame {len(out)}")
        out.append(parts[1] == "1")
    return np.array(out, dtype=bool)


def probe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                        "stream=width,height,r_frame_rate", "-of", "json", path], capture_output=True, text=True)
    if r.returncode:
        fail(f"{path}: ffprobe failed: {r.stderr.strip()}")
    s = json.loads(r.stdout)["streams"][0]
    num, den = s["r_frame_rate"].split("/")
    return s["width"], s["height"], float(num) / float(den), s["r_frame_rate"]


def decode(path, w, h):
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                       capture_output=True)
    if r.returncode:
        fail(f"{path}: ffmpeg could not decode it: {r.stderr.decode().strip()}")
    return np.frombuffer(r.stdout, dtype=np.uint8).reshape(-1, h, w, 3)


def runs(present):
    """Maximal runs [(first, last, value)]."""
    out, i = [], 0
    while i < len(present):
        j = i
        while j + 1 < len(present) and present[j + 1] == present[i]:
            j += 1
        out.append((i, j, bool(present[i])))
        i = j + 1
    return out


def cmd_videos(a):
    os.makedirs(a.out, exist_ok=True)
    for name in ("person", "car"):
        video = os.path.join(a.data, "videos", name + ".mp4")
        labels = read_labels(os.path.join(a.data, "videos", name + ".labels.csv"))
        w, h, fps, rate = probe(video)
        frames = decode(video, w, h)
        n = min(len(frames), len(labels))
        clips = runs(labels[:n])
        cut = int(len(clips) * 0.6)
        for stem, part, seed in (("calib", clips[:cut], 2), ("test", clips[cut:], 3)):
            events = [c for c in part if c[2]]
            backgrounds = [c for c in part if not c[2]]
            if not events or not backgrounds:
                fail(f"{video}: its {stem} part has no event or no background clip")
            rng = np.random.default_rng([a.seed, seed, len(name)])
            target = int(a.minutes * 60 * fps)
            out = os.path.join(a.out, f"video-{name}-{stem}")
            enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                                    f"{w}x{h}", "-r", rate, "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
                                    "-crf", "20", "-pix_fmt", "yuv420p", "-threads", "1", out + ".tmp.mp4"],
                                   stdin=subprocess.PIPE)
            present, count = [], 0
            while len(present) < target:
                first, last, _ = backgrounds[rng.integers(len(backgrounds))]
                k = min(last - first + 1, int(rng.uniform(2, 8) * fps))
                s0 = first + int(rng.integers(0, last - first + 2 - k))
                enc.stdin.write(frames[s0:s0 + k].tobytes())
                present += [False] * k
                first, last, _ = events[rng.integers(len(events))]
                enc.stdin.write(frames[first:last + 1].tobytes())
                present += [True] * (last - first + 1)
                count += 1
            first, last, _ = backgrounds[rng.integers(len(backgrounds))]  # end on background
            enc.stdin.write(frames[first:last + 1].tobytes())
            present += [False] * (last - first + 1)
            enc.stdin.close()
            if enc.wait():
                fail(f"ffmpeg failed writing {out}.tmp.mp4")
            os.replace(out + ".tmp.mp4", out + ".mp4")
            write_labels(out + ".labels.csv", present)
            print(f"{out}.mp4: {len(present)} frames at {fps:g} fps, {count} events")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="kind", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("images", "videos"):
        q = sub.add_parser(name)
        q.add_argument("--out", required=True)
        q.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
        q.add_argument("--seed", type=int, default=1)
    q = sub.choices["images"]
    q.add_argument("--apps", type=int, default=10)
    q.add_argument("--minutes", type=float, default=20)
    q.add_argument("--calib-minutes", type=float, default=10)
    q.add_argument("--fps", type=int, default=10)
    q.add_argument("--size", type=int, default=160)
    q.add_argument("--train-pos", type=int, default=40)
    q.add_argument("--train-neg", type=int, default=60)
    q.add_argument("--rate-scale", type=float, default=1.0, help="multiplies every app's events per minute")
    sub.choices["videos"].add_argument("--minutes", type=float, default=10)
    a = p.parse_args()
    a.data = os.path.abspath(a.data)
    if a.kind == "images":
        if a.fps < 1 or a.size < 32 or a.minutes <= 0 or a.calib_minutes <= 0:
            fail("--fps >= 1, --size >= 32, --minutes and --calib-minutes > 0")
        cmd_images(a)
    else:
        cmd_videos(a)


if __name__ == "__main__":
    main()
