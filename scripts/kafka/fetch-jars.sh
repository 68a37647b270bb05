#!/usr/bin/env bash
# Fetch the jars of a real Apache Kafka 4.x broker from Maven Central into a
# local cache, installing Java 17, Maven and kcat from Debian first if absent.
#
#   scripts/kafka/fetch-jars.sh          # idempotent: does nothing when cached
#   scripts/kafka/fetch-jars.sh --force  # fetch again
#
# Env:
#   BOUCHON_KAFKA_HOME  cache root (default $HOME/.cache/bouchon-kafka);
#                       jars go to $BOUCHON_KAFKA_HOME/lib
#   BOUCHON_KAFKA_NO_APT=1  never call apt-get (fail instead)
#
# Prints the lib directory on its last stdout line. See docs/KAFKA.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
home="${BOUCHON_KAFKA_HOME:-$HOME/.cache/bouchon-kafka}"
lib="$home/lib"
force=0
[[ "${1:-}" == "--force" ]] && force=1

log() { printf 'fetch-jars: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

java_major() {
    # "openjdk version "17.0.15" 2025-04-15" -> 17
    local v
    v="$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')" || return 1
    v="${v#1.}"
    printf '%s\n' "${v%%[.+-]*}"
}

apt_updated=0
apt_install() {
    [[ "${BOUCHON_KAFKA_NO_APT:-0}" == 1 ]] && die "missing $*; BOUCHON_KAFKA_NO_APT=1 forbids apt-get"
    command -v apt-get >/dev/null || die "missing $* and no apt-get here"
    [[ "$(id -u)" == 0 ]] || die "missing $*; run as root or install: apt-get install -y $*"
    if [[ $apt_updated == 0 ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        apt_updated=1
    fi
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

need=()
if ! command -v java >/dev/null || [[ "$(java_major 2>/dev/null || echo 0)" -lt 17 ]]; then
    need+=(openjdk-17-jre-headless)
fi
command -v kcat >/dev/null || need+=(kcat)
# Maven is only needed when the cache must be (re)filled.
pom_sum="$(sha256sum "$pom" | cut -d' ' -f1)"
cached=0
if [[ $force == 0 && -f "$lib/.complete" && "$(cat "$lib/.complete")" == "$pom_sum" ]]; then
    cached=1
fi
[[ $cached == 0 ]] && ! command -v mvn >/dev/null && need+=(maven)
((${#need[@]})) && apt_install "${need[@]}"

if [[ $(java_major) -lt 17 ]]; then
    # An older default java may shadow the one just installed.
    j17=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
    [[ -x $j17 ]] || die "Kafka 4.x needs Java 17+, 'java' is $(java_major)"
    log "note: default java is $(java_major); set BOUCHON_KAFKA_JAVA=$j17"
fi

if [[ $cached == 1 ]]; then
    log "jars already in $lib"
    printf '%s\n' "$lib"
    exit 0
fi

mkdir -p "$home"
exec 9>"$home/.fetch.lock"
flock -w 600 9 || die "timed out waiting for another fetch-jars.sh"
# Another process may have filled the cache while we waited.
if [[ $force == 0 && -f "$lib/.complete" && "$(cat "$lib/.complete")" == "$pom_sum" ]]; then
    printf '%s\n' "$lib"
    exit 0
fi

tmp="$home/lib.tmp.$$"
rm -rf "$tmp"
log "resolving $(grep -o '<kafka.version>[^<]*' "$pom" | cut -d'>' -f2) jars with Maven (first run downloads ~45 MB)"
# (Maven 3.8 prints colour resets even with -q -B: strip them.)
if ! timeout 900 mvn -q -B -f "$pom" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 \
        | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed"
fi
ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "no kafka_2.13 jar resolved"; }
printf '%s\n' "$pom_sum" >"$tmp/.complete"
rm -rf "$lib"
mv "$tmp" "$lib"
log "$(find "$lib" -name '*.jar' | wc -l) jars in $lib"
printf '%s\n' "$lib"
