#!/usr/bin/env bash
# Kafka benchmark on the real 3-broker KRaft cluster of scripts/kafka/cluster.sh.
#
#   bench/run_kafka_bench.sh            # everything (about 6 minutes)
#   bench/run_kafka_bench.sh --quick    # fewer files, shorter live run (about 2 minutes)
#
# 1. Producer throughput: `bouchon ingest --replay` of FILES synthetic snapshots (whole
#    process: read, parse, encode, produce, wait for every delivery report) beside
#    `kcat -P` producing the very same messages (keys and values dumped from the topic
#    ingest wrote) with the same producer settings (idempotent, acks=all, lz4,
#    linger.ms=20, murmur2 partitioner) and the same four headers, into identical 6x3
#    topics.  RUNS runs each, alternating which goes first; the median is reported.
# 2. End-to-end latency at the live rate: `ingest --replay --pace 60` plays LIVE_FILES
#    snapshots (694 records each, i.e. ~700 records a minute like the live feed) while
#    `load --latency-log` records, for every record, its fetch time (in the message)
#    and the commit time of its warehouse transaction; p50/p99/max.  Then the same at
#    60x the live rate (--pace 1, FAST_FILES snapshots).
#
# Environment: BOUCHON (default build/bouchon), DAY_DIR (default bench/out/day; generated
# if incomplete), FILES (300), RUNS (5), LIVE_FILES (4), FAST_FILES (30).
# The cluster runs in a temporary BOUCHON_KAFKA_DATA on the default ports and is
# stopped and deleted at the end (also on failure).  Results: bench/out/kafka_bench.txt.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
BOUCHON=${BOUCHON:-$repo/build/bouchon}
DAY_DIR=${DAY_DIR:-$repo/bench/out/day}
FILES=${FILES:-300}
RUNS=${RUNS:-5}
LIVE_FILES=${LIVE_FILES:-4}
FAST_FILES=${FAST_FILES:-30}
case "${1:-}" in
    --quick) FILES=120; RUNS=3; LIVE_FILES=2; FAST_FILES=15 ;;
    "") ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run_kafka_bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
OUT=$repo/bench/out
RESULTS=$OUT/kafka_bench.txt
die() { echo "run_kafka_bench.sh: $*" >&2; exit 1; }

[ -x "$BOUCHON" ] || die "$BOUCHON not built (make)"
command -v kcat >/dev/null || die "kcat not found (apt-get install kcat)"
mkdir -p "$OUT"
if [ "$(find "$DAY_DIR" -name 'ci_trafi_l_*.csv' 2>/dev/null | wc -l)" -lt 1440 ]; then
    echo "generating the synthetic day into $DAY_DIR"
    python3 bench/gen_synthetic_day.py --out "$DAY_DIR" >/dev/null
fi

work=$(mktemp -d /tmp/bouchon-kafka-bench-XXXXXX)
export BOUCHON_KAFKA_DATA=$work/kafka
cleanup() {
    scripts/kafka/cluster.sh clean >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
echo "starting the 3-broker cluster"
B=$(scripts/kafka/cluster.sh start 2>"$work/cluster.log") || { tail -20 "$work/cluster.log"; die "cluster start failed"; }

PROPS=(-X enable.idempotence=true -X acks=all -X compression.type=lz4 -X linger.ms=20
       -X partitioner=murmur2_random)
# kcat gets the same four headers (values of the same length) as ingest's messages
HDRS=(-H bouchon-type=record -H bouchon-dataset=ci_trafi_l
      -H "bouchon-source=$work/in/ci_trafi_l_2025-12-18T0000.csv"
      -H bouchon-fetched-at=2025-12-18T00:00:00.000Z)
mkdir -p "$work/in" "$work/live" "$work/fast"
day=("$DAY_DIR"/ci_trafi_l_*.csv) # glob order = time order
ln -s "${day[@]:0:$FILES}" "$work/in/"
# live runs: the morning peak (08:00, 10:00), where jams form and queues change
ln -s "${day[@]:480:$LIVE_FILES}" "$work/live/"
ln -s "${day[@]:600:$FAST_FILES}" "$work/fast/"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# ---------------------------------------------------------------- throughput
"$BOUCHON" -q topics --brokers "$B" --topic bench.dump --dlq-topic bench.dlq create >/dev/null
"$BOUCHON" -q ingest --brokers "$B" --topic bench.dump --dlq-topic bench.dlq \
    --checkpoint "$work/dump.ckpt" --order name --replay "$work/in"
kcat -C -b "$B" -t bench.dump -o beginning -e -q -f '%k\t%s\n' > "$work/messages.tsv"
n_msgs=$(wc -l < "$work/messages.tsv")
# value bytes: everything but the keys, tabs and newlines
v_bytes=$(LC_ALL=C awk -F'\t' '{s += length($2)} END {print s}' "$work/messages.tsv")
echo "throughput input: $FILES files, $n_msgs messages, $v_bytes value bytes"

: > "$work/t_ingest"
: > "$work/t_kcat"
for r in $(seq 1 "$RUNS"); do
    "$BOUCHON" -q topics --brokers "$B" --topic "bench.ingest.$r" --dlq-topic bench.dlq create >/dev/null
    "$BOUCHON" -q topics --brokers "$B" --topic "bench.kcat.$r" --dlq-topic bench.dlq create >/dev/null
done
sleep 3 # let the new topics' metadata settle on every broker
run_ingest() {
    local t0
    t0=$(now)
    "$BOUCHON" -q ingest --brokers "$B" --topic "bench.ingest.$1" --dlq-topic bench.dlq \
        --checkpoint "$work/run$1.ckpt" --order name --replay "$work/in"
    echo "$(now) - $t0" | bc -l >> "$work/t_ingest"
}
run_kcat() {
    local t0
    t0=$(now)
    kcat -P -b "$B" -t "bench.kcat.$1" -K $'\t' "${PROPS[@]}" "${HDRS[@]}" < "$work/messages.tsv"
    echo "$(now) - $t0" | bc -l >> "$work/t_kcat"
}
for r in $(seq 1 "$RUNS"); do
    if [ $((r % 2)) = 1 ]; then run_ingest "$r"; run_kcat "$r"; else run_kcat "$r"; run_ingest "$r"; fi
    printf 'run %d: ingest %.2f s, kcat %.2f s\n' "$r" "$(tail -1 "$work/t_ingest")" "$(tail -1 "$work/t_kcat")"
done
for r in $(seq 1 "$RUNS"); do
    for t in ingest kcat; do
        got=$(kcat -C -b "$B" -t "bench.$t.$r" -o beginning -e -q -f 'x\n' | wc -l)
        [ "$got" = "$n_msgs" ] || die "bench.$t.$r holds $got messages, expected $n_msgs"
    done
done
ti=$(median < "$work/t_ingest")
tk=$(median < "$work/t_kcat")

# ------------------------------------------------------------- end to end
e2e() { # NAME DIR PACE
    local name=$1 dir=$2 pace=$3
    "$BOUCHON" -q topics --brokers "$B" --topic "bench.$name" --dlq-topic bench.dlq create >/dev/null
    "$BOUCHON" -q load --brokers "$B" --db "$work/$name.db" --topic "bench.$name" \
        --group "bench-$name" --latency-log "$work/$name.lat" 2>"$work/$name.load.log" &
    local lpid=$!
    sleep 4 # group join
    "$BOUCHON" -q ingest --brokers "$B" --topic "bench.$name" --dlq-topic bench.dlq \
        --checkpoint "$work/$name.ckpt" --pace "$pace" --replay "$dir"
    local want i=0
    want=$(( $(find "$dir" -name '*.csv' | wc -l) * 694 ))
    while [ "$(wc -l < "$work/$name.lat" 2>/dev/null || echo 0)" -lt "$want" ] && [ $i -lt 600 ]; do
        sleep 0.1; i=$((i + 1))
    done
    kill -TERM "$lpid"; wait "$lpid" || true
    awk '{print $2 - $1}' "$work/$name.lat" | sort -n | awk -v name="$name" '
        {a[NR] = $1} END {
            p50 = a[int(NR * 0.50 + 0.5)]; p99 = a[int(NR * 0.99 + 0.5)];
            printf "%s %d %d %d %d\n", name, NR, p50, p99, a[NR] }' >> "$work/e2e"
}
: > "$work/e2e"
echo "end-to-end at the live rate: $LIVE_FILES snapshots, one a minute"
e2e live "$work/live" 60
echo "end-to-end at 60x the live rate: $FAST_FILES snapshots, one a second"
e2e fast "$work/fast" 1

# ----------------------------------------------------------------- report
load=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "Kafka benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) cores, load average $load"
    echo "cluster: 3 Kafka 4.4.0 brokers (KRaft) on this machine; topics 6 partitions, RF 3, min.insync.replicas 2"
    echo "producer settings (both): enable.idempotence=true acks=all compression.type=lz4 linger.ms=20 partitioner=murmur2_random"
    echo
    echo "throughput, $FILES synthetic snapshots = $n_msgs messages, $(echo "$v_bytes / 1000000" | bc -l | xargs printf '%.1f') MB of values, median of $RUNS runs:"
    printf '  %-40s %8.2f s %10.0f msg/s %7.1f MB/s\n' "bouchon ingest --replay (read+parse+produce)" "$ti" \
        "$(echo "$n_msgs / $ti" | bc -l)" "$(echo "$v_bytes / $ti / 1000000" | bc -l)"
    printf '  %-40s %8.2f s %10.0f msg/s %7.1f MB/s\n' "kcat -P (same messages from a file)" "$tk" \
        "$(echo "$n_msgs / $tk" | bc -l)" "$(echo "$v_bytes / $tk / 1000000" | bc -l)"
    printf '  ingest / kcat: %.0f %%\n' "$(echo "100 * $tk / $ti" | bc -l)"
    echo
    echo "end-to-end latency, record fetched (read by ingest) -> committed in the warehouse by load:"
    while read -r name n p50 p99 max; do
        printf '  %-34s %6d records  p50 %4d ms  p99 %4d ms  max %4d ms\n' \
            "$( [ "$name" = live ] && echo "live rate (--pace 60, ~694/min)" || echo "60x live (--pace 1, ~694/s)")" \
            "$n" "$p50" "$p99" "$max"
    done < "$work/e2e"
} | tee "$RESULTS"
