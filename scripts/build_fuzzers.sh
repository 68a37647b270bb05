#!/bin/sh
# Builds the libFuzzer targets tests/fuzz/fuzz_*.c into build-fuzz/ (`make fuzz`).
#
#   scripts/build_fuzzers.sh            clang build: build-fuzz/fuzz_NAME + seed corpora
#   scripts/build_fuzzers.sh --replay   also build/fuzz-replay/replay_NAME with $CC (gcc) and
#                                       build/libbouchon.a: re-runs saved inputs without clang
#
# The library sources (src/**/*.c except src/main.c) are compiled again with
# clang, coverage-instrumented and under ASan+UBSan (UB aborts), into
# build-fuzz/libbouchon-fuzz.a; the gcc-built build/libbouchon.a is not used.
# Seed corpora (build-fuzz/seeds/NAME) are rebuilt from the real files of the
# shared folder ($BOUCHON_SHARED, default ../shared) and tests/fixtures; the
# working corpus build-fuzz/corpus/NAME is kept between runs.
# Environment: FUZZ_CC (clang), FUZZ_OUT (build-fuzz), FUZZ_WERROR (1).
set -eu
cd "$(dirname "$0")/.."

FCC=${FUZZ_CC:-clang}
OUT=${FUZZ_OUT:-build-fuzz}
SHARED=${BOUCHON_SHARED:-../shared}
PKGS="libcurl jansson sqlite3 libmicrohttpd rdkafka libxxhash zlib"
WARN="-Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wwrite-strings -Wshadow \
-Wno-missing-field-initializers"
[ "${FUZZ_WERROR:-1}" = 1 ] && WARN="$WARN -Werror"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
PKG_CFLAGS=$(pkg-config --cflags $PKGS)
PKG_LIBS=$(pkg-config --libs $PKGS)
CFLAGS="-std=c17 -O1 -g $WARN -Isrc -I$OUT/gen $PKG_CFLAGS"

if ! command -v "$FCC" >/dev/null 2>&1; then
    echo "build_fuzzers: $FCC not found (apt-get install clang)" >&2
    exit 1
fi

mkdir -p "$OUT/obj" "$OUT/gen"
sh scripts/embed_sql.sh src/warehouse/schema_v*.sql > "$OUT/gen/schema_sql.h.tmp"
if cmp -s "$OUT/gen/schema_sql.h.tmp" "$OUT/gen/schema_sql.h"; then
    rm -f "$OUT/gen/schema_sql.h.tmp"
else
    mv "$OUT/gen/schema_sql.h.tmp" "$OUT/gen/schema_sql.h"
fi

# ---- library: recompile a source when it or any header is newer than its object
newest_hdr=$(ls -t $(find src -name '*.h') "$OUT/gen/schema_sql.h" | head -n 1)
objs=""
for src in $(find src -name '*.c' ! -path src/main.c | sort); do
    obj="$OUT/obj/${src%.c}.o"
    objs="$objs $obj"
    if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$newest_hdr" ]; then
        continue
    fi
    mkdir -p "$(dirname "$obj")"
    echo "  CC  $src"
    $FCC $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
done
rm -f "$OUT/libbouchon-fuzz.a"
ar rcs "$OUT/libbouchon-fuzz.a" $objs

# ---- targets
targets=""
for f in tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    name=${name#fuzz_}
    targets="$targets $name"
    echo "  LD  $OUT/fuzz_$name"
    $FCC $CFLAGS $SAN -fsanitize=fuzzer -Itests/fuzz "$f" "$OUT/libbouchon-fuzz.a" $PKG_LIBS \
        -lm -lpthread -o "$OUT/fuzz_$name"
done

# ---- seed corpora
rm -rf "$OUT/seeds"
for t in $targets; do
    mkdir -p "$OUT/seeds/$t" "$OUT/corpus/$t"
done
data="$SHARED/data/bordeaux"
if [ ! -d "$data" ]; then
    echo "build_fuzzers: $data not found (set BOUCHON_SHARED): seeds from tests/fixtures only" >&2
fi
seed() { # seed TARGET < bytes; named by content (pipelines run it in a subshell)
    tmp="$OUT/seeds/$1/.tmp.$$"
    cat > "$tmp"
    sum=$(cksum < "$tmp" | tr ' ' '-')
    mv "$tmp" "$OUT/seeds/$1/s$sum"
}
for f in "$data"/*.csv tests/fixtures/formats/*.csv; do
    [ -f "$f" ] || continue
    head -c 65536 "$f" | seed csv
    head -n 40 "$f" | seed csv
    head -n 40 "$f" | seed reader
done
for f in tests/fixtures/formats/*.json tests/fixtures/formats/*.geojson; do
    [ -f "$f" ] || continue
    seed reader < "$f"
done
printf '<!DOCTYPE html>\n<html><body>502</body></html>\n' | seed reader
printf '{"error_code": "InvalidRESTParameterError", "message": "bad limit"}' | seed reader
printf '{"total_count": 0, "results": []}' | seed reader
printf '[1, "x", null, {"ident": "A", "gid": "2151.0", "etat": "BLOQUE", "mdate": "2025-12-18T10:00:00Z"}]' | seed reader
printf '\357\273\277Geo Point;Geo Shape;gid;ident;etat;mdate\r\n44.8, -0.5;"{""type"": ""LineString"", ""coordinates"": [[0,45],[0,46]]}";1;A;EMBOUTEILL\303\211;2025-12-18T10:00:00+0100\r\n' | seed reader
printf 'a;"b""c";"d\ne"\r\n"unterminated\n;;\n' | seed csv
for s in 2025-12-18T10:00:50+01:00 2025-12-18T09:00:50Z 2025-12-18T09:00:50+00:00 \
    2021-01-11T06:00:00+0100 2021-01-11T06:00:00+01 2011-06-09 "2025-12-18 10:00:50" \
    2022-03-10T10:45:34.660+01:00 2016-12-31T23:59:60Z 2021-10-31T02:30:00 2021-03-28T02:30:00 \
    2024-02-29T23:59:59-01:00 1000-01-01T00:00:00+14:00 9998-12-31T23:59:59Z; do
    printf '%s' "$s" | seed time
done
# import: a kind byte (0 segment-history, 1 travel-times, 2 counts, 3 sensors, 4 works,
# 5 periods: bch_import_kind_names() order) then the head of a real file of that kind
imp_seed() { # imp_seed KIND_BYTE FILE [LINES]
    [ -f "$2" ] || return 0
    { printf "\\$(printf '%03o' "$1")"; zcat -f "$2" | head -n "${3:-30}"; } | seed import
}
imp_seed 0 "$data/history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"
imp_seed 1 "$data/history/ci_tpstj_a_hourly_2021-01_2022-01.csv.gz"
imp_seed 1 "$data/ci_tpstj_a_2025-12-17T1405Z.csv"
imp_seed 2 "$data/comptage-du-trafic-2023.csv"
imp_seed 3 "$data/history/pc_capte_p_hourly_network_total_2020-11_2022-01.csv"
imp_seed 4 "$data/ci_chantier_2024-10-01.csv" 8
imp_seed 5 "$data/history/lockdowns_fr.csv"
if [ -f "$data/history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz" ]; then
    # a gzip member of real rows: the inflate path
    { printf '\000'; zcat "$data/history/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz" |
        head -n 50 | gzip -c; } | seed import
fi
printf '{"type":"MultiLineString","coordinates":[[[0,0],[0,1]],[[10,0],[10,1]]]}' | seed geom
printf '{"type":"Feature","geometry":{"type":"Point","coordinates":[-0.5,44.8]},"properties":{}}' | seed geom
printf '{"type":"MultiPoint","coordinates":[[-180,-90],[180,90,3]]}' | seed geom
if command -v python3 >/dev/null 2>&1 && [ -d "$data" ]; then
    # real date-times and geometries, one per seed file
    python3 - "$data" "$OUT/seeds" <<'PY'
import csv, json, os, sys
data, out = sys.argv[1], sys.argv[2]
times, shapes = set(), []
for name in sorted(os.listdir(data)):
    if not name.startswith("ci_trafi_l_") or not name.endswith(".csv"):
        continue
    with open(os.path.join(data, name), encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f, delimiter=";")):
            times.update([row["mdate"], row["cdate"]])
            if i % 7 == 0:
                shapes.append(row["geo_shape"])
                shapes.append(json.dumps({"type": "Feature", "geometry": json.loads(row["geo_shape"]),
                                          "properties": {}}))
for k, t in enumerate(sorted(times)[:200]):
    open(os.path.join(out, "time", "real%d" % k), "w").write(t)
for k, s in enumerate(shapes):
    open(os.path.join(out, "geom", "real%d" % k), "w").write(s)
PY
fi
for t in $targets; do
    echo "  seeds $t: $(ls "$OUT/seeds/$t" | wc -l)"
done

# ---- optional replay binaries (plain C compiler, gcc-built library)
if [ "${1:-}" = "--replay" ]; then
    make build/libbouchon.a
    mkdir -p build/fuzz-replay
    for t in $targets; do
        echo "  LD  build/fuzz-replay/replay_$t"
        ${CC:-cc} -std=c17 -O1 -g $WARN -Isrc -Itests/fuzz $PKG_CFLAGS -o "build/fuzz-replay/replay_$t" \
            tests/fuzz/replay_corpus.c "tests/fuzz/fuzz_$t.c" build/libbouchon.a $PKG_LIBS -lm \
            -lpthread
    done
fi
