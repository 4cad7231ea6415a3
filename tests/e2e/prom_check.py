#!/usr/bin/env python3
"""A strict parser of the Prometheus text exposition format (0.0.4), for tests/e2e/serve.sh.

Usage: prom_check.py FILE [NAME ...]   checks FILE parses, that every NAME has a TYPE and
at least one sample, and prints each sample as `name{labels} value` (labels sorted) on stdout.
Rules checked: HELP/TYPE lines well-formed, at most one of each per family and before
its samples; TYPE one of counter/gauge/histogram/summary/untyped; metric and label names
valid; label values properly quoted and escaped; values parse as floats (NaN, +Inf, -Inf);
no series repeated; a family's samples contiguous; the text ends with a newline."""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"


def fail(msg, n=None):
    sys.exit(f"prom_check: line {n}: {msg}" if n else f"prom_check: {msg}")


def parse_labels(s, n):
    labels, i = {}, 0
    while i < len(s):
        m = re.match(LABEL + "=\"", s[i:])
        if not m:
            fail(f"bad label at {s[i:]!r}", n)
        key = m.group(0)[:-2]
        i += len(m.group(0))
        val = []
        while True:
            if i >= len(s):
                fail("unterminated label value", n)
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in "\\\"n":
                    fail("bad escape in label value", n)
                val.append({"\\": "\\", "\"": "\"", "n": "\n"}[s[i + 1]])
                i += 2
            elif c == "\"":
                i += 1
                break
            elif c == "\n":
                fail("newline in label value", n)
            else:
                val.append(c)
                i += 1
        if key in labels:
            fail(f"label {key} repeated", n)
        labels[key] = "".join(val)
        if i < len(s):
            if s[i] != ",":
                fail(f"expected ',' at {s[i:]!r}", n)
            i += 1
    return labels


def family_of(name, types):
    for suffix in ("", "_total", "_count", "_sum", "_bucket"):
        if suffix and name.endswith(suffix) and name[: -len(suffix)] in types:
            return name[: -len(suffix)]
    return name


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    if not text.endswith("\n"):
        fail("does not end with a newline")
    helps, types, seen, samples, done, current = set(), {}, set(), [], set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (" + NAME + r") ?(.*)", line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    fail(f"malformed {line!r}", n)
                continue
            kind, name, rest = m.groups()
            if kind == "HELP":
                if name in helps:
                    fail(f"second HELP for {name}", n)
                helps.add(name)
            else:
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    fail(f"bad TYPE {rest!r}", n)
                if name in types:
                    fail(f"second TYPE for {name}", n)
                if name in done or any(family_of(s[0], types) == name for s in samples):
                    fail(f"TYPE for {name} after its samples", n)
                types[name] = rest
            continue
        if not line.strip():
            continue
        m = re.fullmatch(r"(" + NAME + r")(?:\{(.*)\})? (\S+)(?: (-?\d+))?", line)
        if not m:
            fail(f"malformed sample {line!r}", n)
        name, labels, value = m.group(1), parse_labels(m.group(2) or "", n), m.group(3)
        if value not in ("NaN", "+Inf", "-Inf"):
            try:
                float(value)
            except ValueError:
                fail(f"bad value {value!r}", n)
        fam = family_of(name, types)
        if fam != current:
            if fam in done:
                fail(f"samples of {fam} are not contiguous", n)
            if current:
                done.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            fail(f"series repeated: {line!r}", n)
        seen.add(key)
        samples.append((name, labels, float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))))
    for want in sys.argv[2:]:
        if want not in types:
            fail(f"no TYPE for {want}")
    for name, labels, value in samples:
        lab = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        print(f"{name}{{{lab}}} {value:g}")


main()
