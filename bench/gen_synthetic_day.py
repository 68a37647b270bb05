#!/usr/bin/env python3
"""Generate a reproducible synthetic day of Bordeaux ci_trafi_l snapshots.

Output: 1440 files ci_trafi_l_2025-12-18T0000.csv ... T2359.csv, one per
minute of the local day 2025-12-18 (Europe/Paris, +01:00, no DST change),
each one full snapshot of the REAL 694-segment network, in exactly the format
of the real export /work/shared/data/bordeaux/ci_trafi_l_2025-12-18T1000.csv:
same header and column order, ';' separator, minimal RFC-4180 quoting (only
geo_shape is quoted, with doubled quotes), '+01:00' offsets, LF, no BOM, rows
in the same order as the real file.  Every column except etat and mdate is
copied byte for byte from the real snapshot (geo_point_2d, geo_shape, gml_id,
gid, ident, typevoie, cdate, origine, commune, code_commune).

Model (everything random comes from one random.Random(seed); only
Random.random() is used, in a fixed order, so a seed gives the same bytes on
every Python 3):

* Demand d(t) in [0, 1] by local time of day h (hours, float):
      d = 0.03 + 0.30*A(h) + 0.75*P(h; 8.75, 0.9) + 0.70*P(h; 18.0, 1.2)
  where A(h) is a smooth daytime plateau (logistic up at 06:30, down at
  21:30) and P(h; c, w) = exp(-((h - c) / w)^4) is a flat-topped peak: the
  morning peak is ~08:00-09:30 local, the evening peak ~17:00-19:00 local.
* Per-segment propensity to jam k_i (seeded): k = 0.12 + 1.05*u^3 with u
  uniform (most segments rarely jam, a few are hotspots); segments that are
  EMBOUTEILLE / DENSE in the real 10:00 snapshot are known bottlenecks and
  get k >= 0.95 / k >= 0.75 (+ up to 0.3).  Pressure x = k_i * d(t).
* Per-segment Markov chain, one step per minute, over the ordered states
  FLUIDE < DENSE < EMBOUTEILLE < PARALYSE (PARALYSE rare).  Transition
  probabilities follow the pressure x (see transition() below): the up moves
  grow like x^2.5, the down moves shrink as x approaches 1; small direct
  FLUIDE -> EMBOUTEILLE and EMBOUTEILLE -> FLUIDE jumps exist, as in the real
  pair of snapshots.  The chain is started FLUIDE and burnt in over the 180
  minutes before midnight.
* Segments that are INCONNU in the real snapshot (all 126 DIRA segments and
  98 PC_CIRCULATION ones) stay INCONNU all day.  Their mdate follows the real
  feed: the 129 whose real mdate is stale (126 DIRA + 3 PC_CIRCULATION) keep
  that stale mdate unchanged in every file; the 95 PC_CIRCULATION ones whose
  real mdate is fresh are refreshed every minute like any fresh segment, as
  the real feed does (it reports them INCONNU at each refresh).  With
  --freeze-unknown every segment INCONNU in the real snapshot keeps its real
  mdate unchanged instead.
* Flicker: ~5% of the PC_CIRCULATION segments with a known state (24 of 470)
  are flaky: each minute they drop to INCONNU with probability 0.004 and come
  back with probability 0.25 (mean 4 min); while INCONNU their hidden chain
  keeps running and their mdate keeps being refreshed.
* mdate: a fresh segment gets the refresh time of the minute, in two batches
  as in the real feed: the segments whose real mdate ends in ':00' (122:
  BOULEVARDS, QUAIS, COURS and 36 PENETRANTE) get hh:mm:00, the others (443)
  hh:mm:50.  The file for minute hh:mm is named ci_trafi_l_2025-12-18Thhmm.csv
  (the real file T1000 holds 10:00:00 and 10:00:50).

Prints the number of rows written (observations) and the number of distinct
(ident, mdate) pairs (what a store deduplicating on (segment, mdate) keeps).
Stdlib only.
"""

import argparse
import csv
import io
import math
import os
import random
import sys
import time

DAY = "2025-12-18"
OFFSET = "+01:00"
MINUTES = 1440
BURN_IN = 180
STATES = ("FLUIDE", "DENSE", "EMBOUTEILLE", "PARALYSE")
F, D, E, P = range(4)
FLAKY_SHARE = 0.05
FLICKER_ON = 0.004
FLICKER_OFF = 0.25
HEADER = ["geo_point_2d", "geo_shape", "gml_id", "gid", "ident", "typevoie", "etat",
          "cdate", "mdate", "origine", "commune", "code_commune"]
I_ETAT, I_CDATE, I_MDATE = 6, 7, 8


def default_snapshot():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    name = "ci_trafi_l_2025-12-18T1000.csv"
    for cand in (os.path.join(repo, "data", "bordeaux", name),
                 os.path.join(repo, "..", "shared", "data", "bordeaux", name),
                 os.path.join("/work", "shared", "data", "bordeaux", name)):
        if os.path.isfile(cand):
            return os.path.normpath(cand)
    return os.path.join("/work", "shared", "data", "bordeaux", name)


def peak(h, centre, width):
    return math.exp(-(((h - centre) / width) ** 4))


def logistic(z):
    return 1.0 / (1.0 + math.exp(-z))


def demand(h):
    """Demand in [0, 1] at local hour h (float, may be negative for the burn-in)."""
    h = h % 24.0
    day = logistic((h - 6.5) / 0.4) * logistic((21.5 - h) / 0.6)
    d = 0.03 + 0.30 * day + 0.75 * peak(h, 8.75, 0.9) + 0.70 * peak(h, 18.0, 1.2)
    return min(1.0, d)


def transition(s, x):
    """Cumulative (state, probability) moves out of state s under pressure x.

    Returns a list of (target, p); the remaining probability keeps s."""
    up = x ** 2.5
    relief = max(0.0, 1.1 - min(x, 1.1))      # 1.1 at no pressure, 0 at x >= 1.1
    if s == F:
        return [(D, 0.0005 + 0.035 * up), (E, 0.0001 + 0.006 * up)]
    if s == D:
        return [(E, 0.070 * up), (F, 0.015 + 0.110 * relief)]
    if s == E:
        return [(P, 0.0025 * x ** 4), (D, 0.008 + 0.025 * relief),
                (F, 0.003 + 0.015 * relief)]
    return [(E, 0.080 + 0.10 * relief)]       # PARALYSE clears fast


def step(s, x, u):
    acc = 0.0
    for target, p in transition(s, x):
        acc += p
        if u < acc:
            return target
    return s


def serialize(fields):
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="").writerow(fields)
    return buf.getvalue()


def load_snapshot(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        sys.exit(f"{path}: unexpected BOM (the 2025-12-18 snapshots have none)")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), delimiter=";"))
    if rows[0] != HEADER:
        sys.exit(f"{path}: header differs from the ci_trafi_l CSV export")
    header, body = rows[0], rows[1:]
    segs = []
    for r in body:
        if len(r) != len(HEADER):
            sys.exit(f"{path}: row with {len(r)} fields")
        segs.append({
            "prefix": serialize(r[:I_ETAT]) + ";",
            "cdate": serialize([r[I_CDATE]]),
            "suffix": ";" + serialize(r[I_MDATE + 1:]) + "\n",
            "ident": r[4], "origine": r[9], "etat": r[I_ETAT], "mdate": r[I_MDATE],
        })
    # The row template must reproduce the real file byte for byte.
    again = serialize(header) + "\n" + "".join(
        s["prefix"] + s["etat"] + ";" + s["cdate"] + ";" + s["mdate"] + s["suffix"] for s in segs)
    if again.encode("utf-8") != raw:
        sys.exit(f"{path}: cannot reproduce the file byte for byte; refusing to guess the format")
    return serialize(header) + "\n", segs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=20251218)
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "out", "day"))
    ap.add_argument("--snapshot", default=default_snapshot(),
                    help="real ci_trafi_l CSV giving the network (default: %(default)s)")
    ap.add_argument("--freeze-unknown", action="store_true",
                    help="keep the real mdate of every segment INCONNU in the snapshot "
                         "(default: only the stale ones keep it, as in the real feed)")
    ap.add_argument("--stats", action="store_true",
                    help="print the state counts of every full hour to stderr")
    args = ap.parse_args()

    t0 = time.perf_counter()
    header, segs = load_snapshot(args.snapshot)
    n = len(segs)
    today = DAY + "T"
    rng = random.Random(args.seed)
    rnd = rng.random

    # ---- per-segment parameters, drawn in file order
    known_pc = []
    for i, s in enumerate(segs):
        u, v = rnd(), rnd()
        k = 0.12 + 1.05 * u ** 3
        if s["etat"] == "EMBOUTEILLE":
            k = max(k, 0.95 + 0.3 * v)
        elif s["etat"] == "DENSE":
            k = max(k, 0.75 + 0.3 * v)
        s["k"] = k
        s["unknown"] = s["etat"] == "INCONNU"
        fresh = s["mdate"].startswith(today)
        s["frozen"] = not fresh or (s["unknown"] and args.freeze_unknown)
        s["second"] = s["mdate"][17:19] if fresh else "50"
        if fresh and s["second"] not in ("00", "50"):
            sys.exit(f"{args.snapshot}: fresh mdate {s['mdate']} is not on the :00/:50 batches")
        s["flaky"] = False
        if s["origine"] == "PC_CIRCULATION" and not s["unknown"]:
            known_pc.append(i)
    # choose round(5%) flaky segments: Fisher-Yates with rnd() only
    order = list(known_pc)
    for j in range(len(order) - 1, 0, -1):
        m = int(rnd() * (j + 1))
        order[j], order[m] = order[m], order[j]
    for i in order[:round(FLAKY_SHARE * len(known_pc))]:
        segs[i]["flaky"] = True

    # ---- burn-in: the chain starts FLUIDE at 21:00 the evening before
    state = [F] * n
    dark = [False] * n
    for minute in range(-BURN_IN, 0):
        d = demand(minute / 60.0)
        for i, s in enumerate(segs):
            state[i] = step(state[i], s["k"] * d, rnd())

    os.makedirs(args.out, exist_ok=True)
    rows = 0
    pairs = set()
    total_bytes = 0
    hourly = []
    for minute in range(MINUTES):
        hh, mm = divmod(minute, 60)
        d = demand(minute / 60.0)
        stamp = f"{today}{hh:02d}:{mm:02d}:"
        out = [header]
        counts = {}
        for i, s in enumerate(segs):
            u_state, u_flick = rnd(), rnd()       # always two draws: stable streams
            state[i] = step(state[i], s["k"] * d, u_state)
            if s["flaky"]:
                dark[i] = (u_flick >= FLICKER_OFF) if dark[i] else (u_flick < FLICKER_ON)
            if s["unknown"] or dark[i]:
                etat = "INCONNU"
            else:
                etat = STATES[state[i]]
            mdate = s["mdate"] if s["frozen"] else stamp + s["second"] + OFFSET
            out.append(s["prefix"] + etat + ";" + s["cdate"] + ";" + mdate + s["suffix"])
            pairs.add((s["ident"], mdate))
            counts[etat] = counts.get(etat, 0) + 1
        rows += n
        data = "".join(out).encode("utf-8")
        total_bytes += len(data)
        path = os.path.join(args.out, f"ci_trafi_l_{DAY}T{hh:02d}{mm:02d}.csv")
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
        if mm == 0:
            hourly.append((hh, d, counts))

    elapsed = time.perf_counter() - t0
    if args.stats:
        print("hour demand " + " ".join(f"{x:>11}" for x in STATES + ("INCONNU",)),
              file=sys.stderr)
        for hh, d, c in hourly:
            print(f"{hh:02d}:00 {d:6.3f} " +
                  " ".join(f"{c.get(x, 0):>11}" for x in STATES + ("INCONNU",)), file=sys.stderr)
    print(f"seed {args.seed}: {MINUTES} files in {args.out}, {total_bytes} bytes "
          f"({total_bytes / 1e6:.1f} MB), {elapsed:.1f} s")
    print(f"flaky segments: {sum(s['flaky'] for s in segs)}; "
          f"frozen-mdate segments: {sum(s['frozen'] for s in segs)}")
    print(f"observations (rows): {rows}")
    print(f"distinct (segment, mdate): {len(pairs)}")


if __name__ == "__main__":
    main()
