#!/usr/bin/env python3
"""Turn out/results.tsv (RESULT lines of run.sh bench) into a Markdown table.

Per payload and library/variant: the median and range of the per-run medians
of process CPU time (each run = ITERS timed parse+walk+free rounds), the best
round of all runs, the wall-clock and parse-only wall medians, MB/s at the CPU
median, and peak RSS (getrusage ru_maxrss, with the RSS once the file is loaded).  Also checks that
every library read the same values from the same payload.
"""

import statistics
import sys
from collections import defaultdict

SUM_KEYS = ("records", "gid_sum", "gids", "idents", "etats", "mdates", "str_bytes", "coords",
            "coord_sum", "problems")


def parse_line(line):
    """key=value items separated by tabs or spaces; a token without '=' continues
    the previous value ("lib=jansson 2.14")."""
    fields = {}
    last = None
    for token in line.rstrip("\n").replace("\t", " ").split(" "):
        if "=" in token:
            last, value = token.split("=", 1)
            fields[last] = value
        elif token and last is not None:
            fields[last] += " " + token
    return fields


def main(path):
    rows = defaultdict(list)
    order = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "\tRESULT\t" not in line:
                continue
            r = parse_line(line)
            key = (r["file"], r["lib"], r["variant"])
            if key not in rows:
                order.append(key)
            rows[key].append(r)

    print("| payload | library [variant] | CPU ms median (range of run medians) | CPU ms best "
          "| wall ms median | parse-only wall ms | MB/s (CPU median) | peak RSS MB (file loaded) "
          "| CPU vs cJSON |")
    print("|---|---|---|---|---|---|---|---|---|")
    sums = defaultdict(set)
    base = {}
    for key in order:
        if key[1].startswith("cJSON"):
            base[key[0]] = statistics.median(float(r["cpu_ms_median"]) for r in rows[key])
    for key in order:
        runs = rows[key]
        medians = sorted(float(r["cpu_ms_median"]) for r in runs)
        med = statistics.median(medians)
        best = min(float(r["cpu_ms_min"]) for r in runs)
        wall = statistics.median(float(r["ms_median"]) for r in runs)
        parse = statistics.median(float(r["ms_parse"]) for r in runs)
        size = int(runs[0]["bytes"])
        peak = max(int(r["rss_peak_kb"]) for r in runs) / 1024
        loaded = max(int(r["rss_loaded_kb"]) for r in runs) / 1024
        ratio = med / base[key[0]] if key[0] in base else float("nan")
        print(f"| {key[0]} ({size / 1e6:.2f} MB) | {key[1]} [{key[2]}] | {med:.1f} "
              f"({medians[0]:.1f}–{medians[-1]:.1f}) | {best:.1f} | {wall:.1f} | {parse:.1f} "
              f"| {size / 1e6 / (med / 1e3):.0f} | {peak:.1f} ({loaded:.1f}) | {ratio:.2f}× |")
        for r in runs:
            sums[key[0]].add(tuple(r[k] for k in SUM_KEYS))
    print()
    for name, values in sums.items():
        state = "identical in every library" if len(values) == 1 else "DIFFER"
        example = dict(zip(SUM_KEYS, next(iter(values))))
        print(f"- {name}: values read {state}: " +
              ", ".join(f"{k}={v}" for k, v in example.items()))
    n_runs = max(len(v) for v in rows.values())
    iters = next(iter(rows.values()))[0]["iters"]
    print(f"\n{n_runs} runs x {iters} timed rounds (after 1 warm-up round) per cell.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/results.tsv")
