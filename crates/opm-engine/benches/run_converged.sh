#!/bin/sh
# `opm run` over a converged cluster: 10,000 nodes x 40 opkgs next to
# 10 x 4, same script, median of RUNS wall times each. A pass over a
# converged cluster reads only the pending-row index, so both should cost
# about the same. Needs sqlite3. Usage: run_converged.sh [OPM_BINARY]
set -eu
OPM=${1:-$(dirname "$0")/../../../target/release/opm}
RUNS=${RUNS:-11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'server\nhead\n' > "$work/opm.conf"
mkdir -p "$work/root"

cluster() { # nodes opkgs -> database path
    db="$work/db-$1x$2.sqlite"
    OPM_DB="sqlite:$db" OPM_CONF="$work/opm.conf" "$OPM" init >/dev/null
    sqlite3 "$db" <<SQL
BEGIN;
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1)
  INSERT INTO nodes (name) SELECT printf('n%06d', i) FROM seq;
INSERT INTO group_members (group_id, node_id)
  SELECT g.id, n.id FROM groups g, nodes n WHERE g.name = 'oscar_clients' AND n.head = 0;
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $2)
  INSERT INTO opkgs (name, version, summary, source, imported_at_ms)
  SELECT printf('pkg%03d', i), '1.0-1', 'bulk', '/srv/opkgs', 0 FROM seq;
INSERT INTO rows (node_id, opkg_id, requested, current, status, updated_ms)
  SELECT n.id, o.id, 8, 8, 'ok', 0 FROM nodes n CROSS JOIN opkgs o;
UPDATE cluster SET phase = 'complete';
COMMIT;
ANALYZE;
SQL
    echo "$db"
}

median_ms() { # database -> median wall ms of `opm run`
    for _ in $(seq "$RUNS"); do
        start=$(date +%s%N)
        OPM_DB="sqlite:$1" OPM_CONF="$work/opm.conf" OPM_ROOT="$work/root" \
            OPM_BACKEND=dpkg "$OPM" run >/dev/null 2>&1
        end=$(date +%s%N)
        echo $(( (end - start) / 1000000 ))
    done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

small=$(cluster 10 4)
large=$(cluster 10000 40)
echo "rows: small $(sqlite3 "$small" 'SELECT count(*) FROM rows'), large $(sqlite3 "$large" 'SELECT count(*) FROM rows')"
echo "opm run, converged, median of $RUNS: 10x4 $(median_ms "$small") ms, 10000x40 $(median_ms "$large") ms"
