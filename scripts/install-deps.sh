#!/usr/bin/env bash
# Installs the Debian 12 packages Bouchon needs, only those missing.
#   scripts/install-deps.sh          build and run (C toolchain and libraries)
#   scripts/install-deps.sh --test   also what the test suite uses
set -euo pipefail

build_pkgs=(build-essential pkg-config curl ca-certificates sqlite3
    libcurl4-openssl-dev libjansson-dev libsqlite3-dev libmicrohttpd-dev librdkafka-dev
    libxxhash-dev zlib1g-dev nodejs npm)
test_pkgs=(libcmocka-dev python3 python3-pytest valgrind clang clang-format prometheus
    gdal-bin chromium kcat openjdk-17-jre-headless maven time wrk)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then
    want+=("${test_pkgs[@]}")
fi
# A tool already on the PATH (e.g. Node.js installed from elsewhere) counts
# as present: installing Debian's package over it would conflict.
provided_by_command() {
    case "$1" in
    nodejs) command -v node >/dev/null ;;
    npm) command -v npm >/dev/null ;;
    openjdk-17-jre-headless) command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])' ;;
    maven) command -v mvn >/dev/null ;;
    *) return 1 ;;
    esac
}
missing=()
for p in "${want[@]}"; do
    if provided_by_command "$p"; then
        continue
    fi
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
