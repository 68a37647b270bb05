#!/usr/bin/env bash
# Local 3-node Apache Kafka 4.x cluster (KRaft, combined broker+controller,
# static quorum) on 127.0.0.1, from Maven Central jars. No Docker.
#
# Usage: scripts/kafka/cluster.sh COMMAND [ARGS]
#   start             format storage on first start, start the 3 nodes, wait
#                     until all brokers are listed and a topic can be created,
#                     print the bootstrap list
#   stop              graceful stop of all nodes (SIGTERM, SIGKILL after timeout)
#   status            per-node state + metadata summary (exit 0 only if all up)
#   stop-node N       graceful stop of node N (1..3)
#   kill-node N       SIGKILL node N
#   start-node N      (re)start node N, wait until it is back in every ISR
#   bootstrap         print the bootstrap list
#   clean             stop, then delete the state dir
#   topics ARGS...    org.apache.kafka.tools.TopicCommand against the cluster
#                     (e.g. topics --create --topic t --partitions 6 --replication-factor 3)
#   groups ARGS...    org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
#   run-class CLASS ARGS...  any class on the Kafka classpath (tools JVM)
#   logs N [LINES]    tail of node N's server.log
#
# Environment (defaults in brackets):
#   BOUCHON_KAFKA_DATA        state dir [<repo>/var/kafka] (var/ is gitignored)
#   BOUCHON_KAFKA_HOME        jar cache root [$HOME/.cache/bouchon-kafka]
#   BOUCHON_KAFKA_LIB         jar dir [$BOUCHON_KAFKA_HOME/lib]
#   BOUCHON_KAFKA_HOST        listen/advertise address [127.0.0.1]
#   BOUCHON_KAFKA_PORT_N      PLAINTEXT port of node N [N9092]
#   BOUCHON_KAFKA_CONTROLLER_PORT_N  CONTROLLER port of node N [N9093]
#   BOUCHON_KAFKA_HEAP_OPTS   [-Xms256m -Xmx512m]
#   BOUCHON_KAFKA_JVM_OPTS    broker JVM flags besides heap [serial GC, C1 only]
#   BOUCHON_KAFKA_JAVA        java binary [java]
#   BOUCHON_KAFKA_START_TIMEOUT  seconds for start / start-node [120]
#   BOUCHON_KAFKA_STOP_TIMEOUT   seconds before SIGKILL on stop [60]
#   BOUCHON_KAFKA_QUORUM_GRACE   seconds a node may stay up once 2 of 3 are gone
#                                (it cannot finish a controlled shutdown) [10]
#   BOUCHON_KAFKA_AUTO_CREATE    auto.create.topics.enable [true]
#   BOUCHON_KAFKA_EXTRA_CONFIG   extra server.properties lines (k=v, newline
#                                separated), appended to every node (last wins)
#   BOUCHON_KAFKA_NO_FETCH=1     never run fetch-jars.sh (fail if jars missing)
#   BOUCHON_KAFKA_KEEP_ON_FAILURE=1  a failed start/start-node leaves its JVMs up
# See docs/KAFKA.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
khome="${BOUCHON_KAFKA_HOME:-$HOME/.cache/bouchon-kafka}"
lib="${BOUCHON_KAFKA_LIB:-$khome/lib}"
data="${BOUCHON_KAFKA_DATA:-$repo_root/var/kafka}"
host="${BOUCHON_KAFKA_HOST:-127.0.0.1}"
java_bin="${BOUCHON_KAFKA_JAVA:-java}"
heap_opts="${BOUCHON_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
# Serial GC + C1 only: measured ~40% faster start and ~40% less start-up CPU
# than Kafka's G1 defaults on 2 cores, same RSS (see docs/KAFKA.md).
jvm_opts="${BOUCHON_KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
tool_opts="-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true"
start_timeout="${BOUCHON_KAFKA_START_TIMEOUT:-120}"
stop_timeout="${BOUCHON_KAFKA_STOP_TIMEOUT:-60}"
quorum_grace="${BOUCHON_KAFKA_QUORUM_GRACE:-10}"
auto_create="${BOUCHON_KAFKA_AUTO_CREATE:-true}"
nodes=(1 2 3)
probe_topic="__bouchon_probe"

log() { printf 'kafka-cluster: %s\n' "$*" >&2; }
# Nodes launched by this invocation: stopped again if it fails (unless
# BOUCHON_KAFKA_KEEP_ON_FAILURE=1), so a failed start leaves no JVM behind.
launched=()
die() {
    log "ERROR: $*"
    if ((${#launched[@]})) && [[ "${BOUCHON_KAFKA_KEEP_ON_FAILURE:-0}" != 1 ]]; then
        log "stopping node(s) ${launched[*]} started by this command (keep them: BOUCHON_KAFKA_KEEP_ON_FAILURE=1)"
        local -a l=("${launched[@]}")
        launched=()
        stop_timeout=15 stop_pids TERM "${l[@]}" || true
    fi
    exit 1
}

# ---------------------------------------------------------------- helpers

check_node_arg() {
    [[ "${1:-}" =~ ^[123]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"
}

port_of() {
    local v="BOUCHON_KAFKA_PORT_$1"
    printf '%s\n' "${!v:-${1}9092}"
}

ctrl_port_of() {
    local v="BOUCHON_KAFKA_CONTROLLER_PORT_$1"
    printf '%s\n' "${!v:-${1}9093}"
}

bootstrap_list() {
    local n out=""
    for n in "${nodes[@]}"; do out+="${out:+,}$host:$(port_of "$n")"; done
    printf '%s\n' "$out"
}

quorum_voters() {
    local n out=""
    for n in "${nodes[@]}"; do out+="${out:+,}$n@$host:$(ctrl_port_of "$n")"; done
    printf '%s\n' "$out"
}

node_dir() { printf '%s/node-%s\n' "$data" "$1"; }
pid_file() { printf '%s/kafka.pid\n' "$(node_dir "$1")"; }

# True if PID is a live (non-zombie) Kafka broker of node N.
pid_is_node() {
    local pid="$1" n="$2" state cmd
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/stat" ]] || return 1
    state="$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [[ "$state" != Z && "$state" != X ]] || return 1
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmd" == *kafka.Kafka*"$(node_dir "$n")/server.properties"* ]]
}

node_pid() {
    # Prints the pid of node N if it runs; else returns 1 (and drops a stale pid file).
    local f pid
    f="$(pid_file "$1")"
    [[ -f "$f" ]] || return 1
    pid="$(cat "$f" 2>/dev/null || true)"
    if pid_is_node "$pid" "$1"; then
        printf '%s\n' "$pid"
        return 0
    fi
    rm -f "$f"
    return 1
}

port_open() {
    # port_open HOST PORT: something accepts TCP connections there.
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

ensure_jars() {
    if ls "$lib"/kafka_2.13-*.jar >/dev/null 2>&1 && [[ -f "$lib/.complete" ]]; then
        :
    elif [[ "${BOUCHON_KAFKA_NO_FETCH:-0}" == 1 ]]; then
        die "no Kafka jars in $lib (run scripts/kafka/fetch-jars.sh)"
    else
        BOUCHON_KAFKA_HOME="$khome" "$here/fetch-jars.sh" >/dev/null
        [[ -f "$lib/.complete" ]] || die "fetch-jars.sh did not fill $lib (set BOUCHON_KAFKA_LIB?)"
    fi
    command -v kcat >/dev/null || die "kcat not found (run scripts/kafka/fetch-jars.sh)"
    command -v "$java_bin" >/dev/null || die "java not found: $java_bin"
}

run_tool() {
    # run_tool CLASS ARGS... : a short-lived JVM on the Kafka classpath.
    local cls="$1"; shift
    # shellcheck disable=SC2086
    "$java_bin" $tool_opts -Dlog4j2.configurationFile="$here/log4j2-tools.properties" \
        -cp "$lib/*" "$cls" "$@"
}

safe_data_dir() {
    # Refuse obviously dangerous state dirs (clean does rm -rf on it).
    local d
    d="$(realpath -m "$data")"
    case "$d" in
        / | /root | /home | /tmp | /var | /usr | /etc | /opt | /srv | /work | "$repo_root" | "$HOME")
            die "refusing to use '$d' as state dir" ;;
    esac
    [[ "$repo_root/" == "$d/"* ]] && die "refusing to use '$d' (contains the repo) as state dir"
    return 0
}

write_config() {
    local n="$1" d
    d="$(node_dir "$n")"
    mkdir -p "$d/data" "$d/logs"
    cat >"$d/server.properties.tmp" <<EOF
# Generated by scripts/kafka/cluster.sh on every start: edit the script or
# BOUCHON_KAFKA_EXTRA_CONFIG, not this file.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(quorum_voters)
listeners=PLAINTEXT://$host:$(port_of "$n"),CONTROLLER://$host:$(ctrl_port_of "$n")
advertised.listeners=PLAINTEXT://$host:$(port_of "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$d/data

# Replication: 3 replicas, acks=all survives one node down.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
share.coordinator.state.topic.num.partitions=10
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=$auto_create
num.partitions=1
unclean.leader.election.enable=false

# Small footprint: 2 cores shared with the rest of the work.
num.network.threads=2
num.io.threads=4
background.threads=4
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.retention.hours=24
log.segment.bytes=67108864
EOF
    if [[ -n "${BOUCHON_KAFKA_EXTRA_CONFIG:-}" ]]; then
        printf '\n# BOUCHON_KAFKA_EXTRA_CONFIG\n%s\n' "$BOUCHON_KAFKA_EXTRA_CONFIG" >>"$d/server.properties.tmp"
    fi
    mv "$d/server.properties.tmp" "$d/server.properties"
}

cluster_id() {
    # One cluster id for all nodes, created once (22 chars of URL-safe base64
    # of 16 random bytes, like Uuid.randomUuid(); never starting with '-').
    local f="$data/cluster.id" id
    if [[ ! -s "$f" ]]; then
        mkdir -p "$data"
        touch "$data/.bouchon-kafka"
        while :; do
            id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
            [[ "$id" != -* && "$id" != AAAAAAAAAAAAAAAAAAAAA* ]] && break
        done
        printf '%s\n' "$id" >"$f"
    fi
    cat "$f"
}

format_node() {
    # Formats node N's log dir unless already formatted (static quorum: no flag).
    local n="$1" d id
    d="$(node_dir "$n")"
    [[ -f "$d/data/meta.properties" ]] && return 0
    id="$(cluster_id)"
    log "formatting node $n (cluster id $id)"
    if ! run_tool kafka.tools.StorageTool format -t "$id" -c "$d/server.properties" \
            >"$d/logs/format.log" 2>&1; then
        cat "$d/logs/format.log" >&2
        die "format of node $n failed"
    fi
}

check_ports_free() {
    local n="$1" p
    for p in "$(port_of "$n")" "$(ctrl_port_of "$n")"; do
        if port_open "$host" "$p"; then
            die "port $host:$p (node $n) is already in use by another process"
        fi
    done
}

launch_node() {
    # Starts node N's JVM in its own session; does not wait for readiness.
    local n="$1" d
    d="$(node_dir "$n")"
    if node_pid "$n" >/dev/null; then
        log "node $n already running (pid $(node_pid "$n"))"
        return 0
    fi
    check_ports_free "$n"
    {
        printf '\n===== %s start node %s =====\n' "$(date -Is)" "$n"
    } >>"$d/logs/stdout.log"
    # The inner bash writes its own pid then execs java, so the pid file is
    # the JVM's pid whether or not setsid forks.
    # shellcheck disable=SC2086,SC2016 # word-split JVM flags; $$ is the inner bash's
    (
        cd "$d"
        setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$(pid_file "$n")" \
            "$java_bin" $heap_opts $jvm_opts \
            -Dkafka.logs.dir="$d/logs" \
            -Dlog4j2.configurationFile="$here/log4j2.properties" \
            -cp "$lib/*" kafka.Kafka "$d/server.properties" \
            >>"$d/logs/stdout.log" 2>&1 </dev/null &
    )
    local _
    for _ in $(seq 1 50); do
        [[ -s "$(pid_file "$n")" ]] && break
        sleep 0.1
    done
    launched+=("$n")
    node_pid "$n" >/dev/null || { tail_logs "$n"; die "node $n did not start"; }
    log "node $n started (pid $(node_pid "$n")), PLAINTEXT $host:$(port_of "$n"), CONTROLLER $host:$(ctrl_port_of "$n")"
}

tail_logs() {
    local n f
    for n in "$@"; do
        for f in "$(node_dir "$n")/logs/server.log" "$(node_dir "$n")/logs/stdout.log"; do
            [[ -s "$f" ]] || continue
            printf -- '----- tail %s -----\n' "$f" >&2
            tail -n 25 "$f" >&2
        done
    done
}

metadata() {
    # kcat -L against the whole bootstrap list, bounded in time.
    timeout 15 kcat -L -b "$(bootstrap_list)" -m 5 2>/dev/null
}

listed_brokers() {
    # Broker ids present in cluster metadata, one per line.
    metadata | sed -n 's/^ *broker \([0-9]*\) at .*/\1/p' | sort -n
}

under_replicated() {
    # Number of partitions whose ISR is smaller than their replica set
    # (prints nothing if metadata is unavailable).
    local md
    md="$(metadata)" || return 1
    awk '/^ *partition [0-9]+,/ {
            r = $0; sub(/.*replicas: /, "", r); sub(/,? *isrs:.*/, "", r)
            i = $0; sub(/.*isrs: /, "", i); sub(/[ ,]*$/, "", i)
            nr = split(r, a, ","); ni = split(i, b, ",")
            if (ni < nr || $0 ~ /Broker: Leader not available|leader -1/) u++
         }
         END { print u + 0 }' <<<"$md"
}

wait_until() {
    # wait_until DEADLINE_EPOCH WHAT NODES -- CMD... : poll CMD every second.
    local deadline="$1" what="$2" watch="$3" n
    shift 4
    while :; do
        "$@" && return 0
        for n in $watch; do
            node_pid "$n" >/dev/null || { tail_logs "$n"; die "node $n exited while waiting for $what"; }
        done
        if (($(date +%s) >= deadline)); then
            # shellcheck disable=SC2086
            tail_logs $watch
            die "timed out after ${start_timeout}s waiting for $what"
        fi
        sleep 1
    done
}

all_listed() {
    local want="$1" got
    got="$(listed_brokers | tr '\n' ' ')"
    [[ "$got" == "$want " ]]
}

fully_replicated() {
    local u
    u="$(under_replicated)" || return 1
    [[ "$u" == 0 ]]
}

probe_create_topic() {
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_list)" \
        --create --if-not-exists --topic "$probe_topic" --partitions 1 --replication-factor 3 \
        >/dev/null 2>"$data/probe.err" && return 0
    log "topic creation not yet possible: $(grep -m1 -iE 'error|exception' "$data/probe.err" | cut -c1-200)"
    return 1
}

stop_pids() {
    # stop_pids SIGNAL NODES... : signal nodes, wait for exit, SIGKILL after timeout.
    #
    # A combined node's broker asks the controller quorum to grant its controlled
    # shutdown (a record that a majority of the 3 controllers must commit) and
    # waits up to 5 minutes for it. Once 2 of the 3 nodes are gone no quorum is
    # left, so a node still up then can never finish: it gets quorum_grace
    # seconds (to finish a shutdown already granted) and then SIGKILL.
    local sig="$1" n pid deadline lost_at=""
    shift
    local -a todo=()
    for n in "$@"; do
        if pid="$(node_pid "$n")"; then
            kill "-$sig" "$pid" 2>/dev/null || true
            todo+=("$n")
        fi
    done
    ((${#todo[@]})) || return 0
    deadline=$(($(date +%s) + stop_timeout))
    while :; do
        local -a left=()
        local alive=0
        for n in "${todo[@]}"; do node_pid "$n" >/dev/null && left+=("$n"); done
        ((${#left[@]})) || break
        for n in "${nodes[@]}"; do node_pid "$n" >/dev/null && alive=$((alive + 1)); done
        if ((alive * 2 <= ${#nodes[@]})) && [[ "$sig" != KILL ]]; then
            [[ -n "$lost_at" ]] || lost_at=$(date +%s)
            if (($(date +%s) - lost_at >= quorum_grace)); then
                for n in "${left[@]}"; do
                    log "node $n cannot complete a controlled shutdown without a controller quorum: SIGKILL"
                    if pid="$(node_pid "$n")"; then kill -KILL "$pid" 2>/dev/null || true; fi
                done
                sig=KILL
                deadline=$(($(date +%s) + 10))
            fi
        fi
        if (($(date +%s) >= deadline)); then
            for n in "${left[@]}"; do
                pid="$(node_pid "$n")" || continue
                log "node $n still up after ${stop_timeout}s: thread dump to $(node_dir "$n")/logs/stdout.log, then SIGKILL"
                kill -QUIT "$pid" 2>/dev/null || true
                sleep 1
                kill -KILL "$pid" 2>/dev/null || true
            done
            sig=KILL
            deadline=$(($(date +%s) + 10))
            stop_timeout=10
        fi
        sleep 0.3
    done
    for n in "${todo[@]}"; do rm -f "$(pid_file "$n")"; done
}

# ---------------------------------------------------------------- commands

cmd_start() {
    safe_data_dir
    ensure_jars
    local t0 n deadline
    t0=$(date +%s)
    deadline=$((t0 + start_timeout))
    mkdir -p "$data"
    touch "$data/.bouchon-kafka"
    for n in "${nodes[@]}"; do
        node_pid "$n" >/dev/null && continue
        write_config "$n"
    done
    for n in "${nodes[@]}"; do
        node_pid "$n" >/dev/null || check_ports_free "$n"
    done
    cluster_id >/dev/null # create it once, before the parallel formats
    local -a fpids=()
    for n in "${nodes[@]}"; do
        node_pid "$n" >/dev/null && continue
        format_node "$n" &
        fpids+=($!)
    done
    for n in "${fpids[@]}"; do wait "$n" || die "formatting failed"; done
    for n in "${nodes[@]}"; do launch_node "$n"; done
    log "waiting for brokers 1 2 3 in metadata (timeout ${start_timeout}s)"
    wait_until "$deadline" "all 3 brokers" "${nodes[*]}" -- all_listed "${nodes[*]}"
    log "creating probe topic $probe_topic"
    wait_until "$deadline" "topic creation" "${nodes[*]}" -- probe_create_topic
    wait_until "$deadline" "full ISR" "${nodes[*]}" -- fully_replicated
    log "cluster ready in $(($(date +%s) - t0))s, state dir $data"
    bootstrap_list
}

cmd_stop() {
    local n any=0
    for n in "${nodes[@]}"; do node_pid "$n" >/dev/null && any=1; done
    if [[ $any == 0 ]]; then
        log "no node running"
        return 0
    fi
    log "stopping nodes (SIGTERM, SIGKILL after ${stop_timeout}s)"
    stop_pids TERM "${nodes[@]}"
    log "stopped"
}

cmd_status() {
    local n pid up=0 listed
    printf 'state dir: %s\n' "$data"
    [[ -s "$data/cluster.id" ]] && printf 'cluster id: %s\n' "$(cat "$data/cluster.id")"
    listed="$(listed_brokers | tr '\n' ' ')" || true
    for n in "${nodes[@]}"; do
        if pid="$(node_pid "$n")"; then
            local rss
            rss="$(awk '/^VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$pid/status" 2>/dev/null || true)"
            local inmd=no
            [[ " $listed" == *" $n "* ]] && inmd=yes
            printf 'node %s: running pid %s rss %s, %s:%s, in metadata: %s\n' \
                "$n" "$pid" "$rss" "$host" "$(port_of "$n")" "$inmd"
            [[ $inmd == yes ]] && up=$((up + 1))
        else
            printf 'node %s: stopped (%s:%s)\n' "$n" "$host" "$(port_of "$n")"
        fi
    done
    if ((up > 0)); then
        printf 'under-replicated partitions: %s\n' "$(under_replicated || echo '?')"
    fi
    printf 'bootstrap: %s\n' "$(bootstrap_list)"
    ((up == ${#nodes[@]}))
}

cmd_stop_node() {
    check_node_arg "${1:-}"
    node_pid "$1" >/dev/null || { log "node $1 not running"; return 0; }
    log "stopping node $1 (SIGTERM)"
    stop_pids TERM "$1"
    log "node $1 stopped"
}

cmd_kill_node() {
    check_node_arg "${1:-}"
    node_pid "$1" >/dev/null || { log "node $1 not running"; return 0; }
    log "killing node $1 (SIGKILL)"
    stop_pids KILL "$1"
    log "node $1 killed"
}

cmd_start_node() {
    check_node_arg "${1:-}"
    ensure_jars
    local n="$1" t0 deadline
    t0=$(date +%s)
    deadline=$((t0 + start_timeout))
    [[ -f "$(node_dir "$n")/data/meta.properties" ]] || die "node $n was never formatted: use 'start'"
    if ! node_pid "$n" >/dev/null; then
        check_ports_free "$n"
        write_config "$n"
        launch_node "$n"
    fi
    local -a want=()
    local m
    for m in "${nodes[@]}"; do node_pid "$m" >/dev/null && want+=("$m"); done
    wait_until "$deadline" "broker $n in metadata" "$n" -- all_listed "${want[*]}"
    if ((${#want[@]} == ${#nodes[@]})); then
        wait_until "$deadline" "node $n back in every ISR" "$n" -- fully_replicated
    fi
    log "node $n back in $(($(date +%s) - t0))s"
}

cmd_clean() {
    safe_data_dir
    cmd_stop
    if [[ -d "$data" ]]; then
        if [[ -n "$(ls -A "$data")" && ! -e "$data/.bouchon-kafka" ]]; then
            die "$data is not a bouchon kafka state dir (no .bouchon-kafka marker): not deleting"
        fi
        rm -rf "$data"
        log "deleted $data"
    fi
}

cmd_logs() {
    check_node_arg "${1:-}"
    tail -n "${2:-50}" "$(node_dir "$1")/logs/server.log"
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    stop-node) cmd_stop_node "$@" ;;
    kill-node) cmd_kill_node "$@" ;;
    start-node) cmd_start_node "$@" ;;
    bootstrap) bootstrap_list ;;
    clean) cmd_clean ;;
    topics) ensure_jars; run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_list)" "$@" ;;
    groups) ensure_jars; run_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$(bootstrap_list)" "$@" ;;
    run-class) ensure_jars; [[ $# -ge 1 ]] || die "run-class needs a class name"; run_tool "$@" ;;
    logs) cmd_logs "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
