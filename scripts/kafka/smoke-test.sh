#!/usr/bin/env bash
# End-to-end smoke test of the local 3-node Kafka cluster (scripts/kafka/cluster.sh):
# start, create a 6-partition RF 3 topic, produce/consume 1000 messages with kcat,
# SIGKILL one node, check acks=all still works with min.insync.replicas=2 (and
# fails where min.insync.replicas=3), consumer group, restart the node, stop.
#
# Uses its own state dir (a fresh temp dir, deleted on success) unless
# BOUCHON_KAFKA_DATA is set; ports are the cluster.sh defaults (19092/29092/39092)
# unless BOUCHON_KAFKA_PORT_N / BOUCHON_KAFKA_CONTROLLER_PORT_N are set, so stop
# a running developer cluster first.
#   SMOKE_KILL_NODE   node to kill [1]
#   SMOKE_MESSAGES    messages in the first batch [1000]
# Last line: "kafka smoke: N passed, M failed"; exit status 0 only if M is 0.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="$here/cluster.sh"
kill_node="${SMOKE_KILL_NODE:-1}"
n_msgs="${SMOKE_MESSAGES:-1000}"
n_more=500
topic="bouchon.smoke"
topic_isr3="bouchon.smoke.isr3"

own_data=0
if [[ -z "${BOUCHON_KAFKA_DATA:-}" ]]; then
    BOUCHON_KAFKA_DATA="$(mktemp -d "${TMPDIR:-/tmp}/bouchon-kafka-smoke.XXXXXX")"
    own_data=1
fi
export BOUCHON_KAFKA_DATA
work="$(mktemp -d "${TMPDIR:-/tmp}/bouchon-kafka-smoke-work.XXXXXX")"

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
not_ok() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
note() { printf '     %s\n' "$*"; }
# check DESCRIPTION CMD... : run CMD, count the result.
check() {
    local what="$1"; shift
    if "$@"; then ok "$what"; return 0; fi
    not_ok "$what"; return 1
}

finish() {
    local rc=$?
    "$cluster" stop >/dev/null 2>&1 || true
    if ((failed == 0 && own_data == 1)); then
        rm -rf "$BOUCHON_KAFKA_DATA"
    elif ((failed > 0)); then
        note "state and logs kept in $BOUCHON_KAFKA_DATA"
    fi
    rm -rf "$work"
    ((rc != 0 && failed == 0)) && failed=1
    printf 'kafka smoke: %d passed, %d failed\n' "$passed" "$failed"
    ((failed == 0))
    exit
}
trap finish EXIT
trap 'not_ok "interrupted"; exit 130' INT TERM

abort() { not_ok "$*"; note "aborting"; exit 1; }
# since T0_NS: seconds elapsed since T0_NS (from date +%s%N), one decimal.
since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

boot="$("$cluster" bootstrap)"
bootstrap_expected() {
    local n want=""
    for n in 1 2 3; do
        local v="BOUCHON_KAFKA_PORT_$n"
        want+="${want:+,}${BOUCHON_KAFKA_HOST:-127.0.0.1}:${!v:-${n}9092}"
    done
    [[ "$boot" == "$want" ]]
}
check "bootstrap is $boot" bootstrap_expected

# ------------------------------------------------------------------ start
t0=$(date +%s%N)
if "$cluster" start >"$work/start.out" 2>"$work/start.err"; then
    ok "cluster start ($(since "$t0") s)"
else
    cat "$work/start.err"
    abort "cluster start"
fi
[[ "$(tail -n1 "$work/start.out")" == "$boot" ]] || not_ok "start did not print the bootstrap list"

brokers() { timeout 15 kcat -L -b "$boot" -m 5 2>/dev/null | sed -n 's/^ *broker \([0-9]*\) at .*/\1/p' | sort -n | tr '\n' ' '; }
check "kcat -L lists brokers 1 2 3" test "$(brokers)" == "1 2 3 "

# ------------------------------------------------------------------ topics
"$cluster" topics --create --topic "$topic" --partitions 6 --replication-factor 3 \
    --config min.insync.replicas=2 >"$work/create.out" 2>&1 \
    || { cat "$work/create.out"; abort "create topic $topic (TopicCommand)"; }
"$cluster" topics --create --topic "$topic_isr3" --partitions 1 --replication-factor 3 \
    --config min.insync.replicas=3 >>"$work/create.out" 2>&1 \
    || { cat "$work/create.out"; abort "create topic $topic_isr3 (TopicCommand)"; }

topic_shape() {
    # "<partitions> <min replicas> <max replicas>" from kcat metadata.
    timeout 15 kcat -L -b "$boot" -m 5 -t "$1" 2>/dev/null | awk '
        /^ *partition [0-9]+,/ { p++; r = $0; sub(/.*replicas: /, "", r); sub(/, isrs:.*/, "", r)
                                 n = split(r, a, ","); if (min == "" || n < min) min = n; if (n > max) max = n }
        END { print p + 0, min + 0, max + 0 }'
}
shape_ok() { [[ "$(topic_shape "$topic")" == "6 3 3" ]]; }
for _ in $(seq 1 20); do shape_ok && break; sleep 0.5; done
check "topic $topic has 6 partitions x 3 replicas (TopicCommand)" shape_ok

# ------------------------------------------------------------------ produce / consume
seq 1 "$n_msgs" | sed 's/^/smoke-/' >"$work/batch1.txt"
seq $((n_msgs + 1)) $((n_msgs + n_more)) | sed 's/^/smoke-/' >"$work/batch2.txt"

produce() {
    # produce FILE TOPIC [extra kcat args]: acks=all, bounded in time.
    local file="$1" t="$2"; shift 2
    timeout 120 kcat -P -b "$boot" -t "$t" -X acks=all -X enable.idempotence=true \
        -X message.timeout.ms=90000 "$@" -l "$file" 2>>"$work/kcat.err"
}
consume_all() {
    # consume_all TOPIC > lines: read from the beginning to the end of every partition.
    timeout 90 kcat -C -b "$boot" -t "$1" -o beginning -e -q -f '%s\n' 2>>"$work/kcat.err"
}
same_messages() {
    # same_messages EXPECTED_FILE ACTUAL_FILE: same multiset of lines.
    cmp -s <(sort "$1") <(sort "$2")
}

t0=$(date +%s%N)
check "produce $n_msgs messages, acks=all" produce "$work/batch1.txt" "$topic"
note "produced in $(since "$t0") s"
consume_all "$topic" >"$work/got1.txt"
check "consume back $n_msgs messages (got $(wc -l <"$work/got1.txt"))" same_messages "$work/batch1.txt" "$work/got1.txt"

# Consumer group through the group coordinator (__consumer_offsets RF 3).
group_consume() {
    timeout 60 kcat -b "$boot" -G bouchon-smoke-group "$topic" -o beginning -e -q -f '%s\n' \
        -X enable.auto.commit=true -X auto.commit.interval.ms=100 2>>"$work/kcat.err"
}
group_consume >"$work/group1.txt"
check "consumer group reads $n_msgs messages (got $(wc -l <"$work/group1.txt"))" same_messages "$work/batch1.txt" "$work/group1.txt"

# Record memory of the 3 JVMs.
"$cluster" status 2>/dev/null | sed -n 's/^\(node [0-9]: running.*\)/     \1/p'

# ------------------------------------------------------------------ one node down
"$cluster" kill-node "$kill_node" 2>/dev/null || abort "kill-node $kill_node"
node_down() { ! "$cluster" status >/dev/null 2>&1; }
check "node $kill_node killed (SIGKILL)" node_down

t0=$(date +%s%N)
check "produce $n_more messages, acks=all, min.insync.replicas=2, node $kill_node down" \
    produce "$work/batch2.txt" "$topic"
note "produced in $(since "$t0") s (includes leader failover)"
cat "$work/batch1.txt" "$work/batch2.txt" >"$work/all.txt"
consume_all "$topic" >"$work/got2.txt"
check "consume all $((n_msgs + n_more)) messages with node $kill_node down (got $(wc -l <"$work/got2.txt"))" \
    same_messages "$work/all.txt" "$work/got2.txt"

echo "must-not-be-acked" >"$work/one.txt"
produce_isr3() {
    timeout 60 kcat -P -b "$boot" -t "$topic_isr3" -X acks=all -X message.timeout.ms=8000 \
        -l "$work/one.txt" >/dev/null 2>&1
}
refused_isr3() { ! produce_isr3; }
check "acks=all is refused where min.insync.replicas=3 and a node is down" refused_isr3

# ------------------------------------------------------------------ restart
t0=$(date +%s%N)
if "$cluster" start-node "$kill_node" >/dev/null 2>"$work/restart.err"; then
    ok "start-node $kill_node: back in every ISR ($(since "$t0") s)"
else
    cat "$work/restart.err"
    not_ok "start-node $kill_node"
fi
check "kcat -L lists brokers 1 2 3 again" test "$(brokers)" == "1 2 3 "
rport_var="BOUCHON_KAFKA_PORT_$kill_node"
rboot="${BOUCHON_KAFKA_HOST:-127.0.0.1}:${!rport_var:-${kill_node}9092}"
timeout 90 kcat -C -b "$rboot" -t "$topic" -o beginning -e -q -f '%s\n' >"$work/got3.txt" 2>>"$work/kcat.err"
check "consume all $((n_msgs + n_more)) messages bootstrapping from restarted node $kill_node only" \
    same_messages "$work/all.txt" "$work/got3.txt"

# ------------------------------------------------------------------ stop
t0=$(date +%s%N)
"$cluster" stop >/dev/null 2>&1
stopped() {
    local n
    for n in 1 2 3; do [[ ! -e "$BOUCHON_KAFKA_DATA/node-$n/kafka.pid" ]] || return 1; done
    ! "$cluster" status >/dev/null 2>&1
}
check "cluster stop ($(since "$t0") s)" stopped
