#!/usr/bin/env bash
# import_history.sh DB [DATA_DIR] - every real Bordeaux source of the project's shared data
# folder into one warehouse, with `bouchon import`: two years of hourly congestion (tied to
# segment idents through the 2020-03 segments file), a year of corridor travel times and a live
# snapshot, the annual counts (2019, 2021, 2023), the loop sensors and counting campaigns, the
# road works, and the lockdown periods. Then `bouchon serve --db DB` shows them (Historique,
# Corridors, Périodes, counting stations). ~15 s on a laptop; importing again changes nothing.
#
#   DATA_DIR   default $BOUCHON_SHARED/data/bordeaux, BOUCHON_SHARED defaulting to ../shared
#              beside the repository
#   BOUCHON_BIN  the binary (default build/bouchon)
#
# Exit status: 0; 3 when some rows were rejected (see the `rejected` table; the rest is
# stored and the other kinds are still imported); any other status of `bouchon import` stops.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
db=${1:?usage: import_history.sh DB [DATA_DIR]}
D=${2:-${BOUCHON_SHARED:-$ROOT/../shared}/data/bordeaux}
H=$D/history
BIN=${BOUCHON_BIN:-$ROOT/build/bouchon}
status=0

[ -x "$BIN" ] || { echo "import_history.sh: no binary at $BIN (run make)" >&2; exit 2; }
[ -d "$H" ] || { echo "import_history.sh: no history folder at $H" >&2; exit 2; }
D=$(cd "$D" && pwd) && H=$D/history

imp() {
    "$BIN" import --db "$db" -q "$@"
    local rc=$?
    case $rc in
        0) ;;
        3) status=3 ;;
        *) echo "import_history.sh: bouchon import $* failed (exit $rc)" >&2; exit "$rc" ;;
    esac
}

imp --kind segment-history --segments "$H/ci_trafi_l_segments_2020-03.geojson" \
    "$H/ci_trafi_l_hourly_score_2019-09_2022-01.csv.gz"
imp --kind travel-times --corridors "$H/ci_tpstj_a_corridors.geojson" \
    "$H/ci_tpstj_a_hourly_2021-01_2022-01.csv.gz" "$D/ci_tpstj_a_2025-12-17T1405Z.csv"
imp --kind counts "$D/comptage-du-trafic-2023.csv" "$D/comptage_trafic_2019.json" \
    "$D/comptage_trafic_2021.json"
imp --kind sensors "$D/pc_capte_p_2022-03-10T1040.json" "$D/pc_capte_ponct_p.json" \
    "$H/pc_capte_p_hourly_network_total_2020-11_2022-01.csv"
imp --kind works "$D/ci_chantier_2024-10-01.csv"
imp --kind periods "$H/lockdowns_fr.csv"
exit $status
