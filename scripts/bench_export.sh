#!/usr/bin/env bash
# Export benchmark: imports N events (default 1,000,000, ~1.6 kB each), then times one export run
# of all of them to moto's S3 on loopback, as gzip NDJSON (default) or Parquet. Needs the
# emulators that scripts/test.sh installs.
# Usage: bash scripts/bench_export.sh [EVENTS] [NDJSON_GZIP|PARQUET]
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-1000000}"
format="${2:-NDJSON_GZIP}"
tools="${VIGIL_TEST_TOOLS_DIR:-$HOME/.cache/vigil-test-tools}"
if [ ! -x "$tools/venv/bin/moto_server" ]; then
    echo "moto is not installed in $tools/venv: run scripts/test.sh once (it installs it)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
cargo build --release --quiet --bin vigil
vigil="${CARGO_TARGET_DIR:-target}/release/vigil"
python3 - "$events" > "$work/events.ndjson" <<'PY'
import json, sys
pad = "SELECT c.customer_id, c.region, sum(o.amount) FROM sales.orders o JOIN crm.customers c ON o.customer_id = c.customer_id "
for n in range(int(sys.argv[1])):
    print(json.dumps({"id": f"bench-{n}", "action": "QUERY", "actor": {"type": "USER_ACTOR", "id": f"user{n % 500}@example.com", "name": f"User {n % 500}"},
        "targetType": "DATASOURCE", "targets": [{"type": "DATASOURCE", "id": str(n % 2000), "name": f"table_{n % 2000}", "technology": "SNOWFLAKE"}],
        "actionStatus": "SUCCESS", "eventTimestamp": "2026-11-22T10:00:00.000Z",
        "auditPayload": {"type": "QueryAuditPayload", "queryId": f"q-{n}", "query": pad * 10 + f"WHERE o.id = {n}"}}))
PY
echo "generated $events events ($(du -h "$work/events.ndjson" | cut -f1))"
import_start=$(date +%s.%N)
RUST_LOG=warn "$vigil" import "$work/events.ndjson" --data-dir "$work/data" >/dev/null
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'vigil import: {s:.1f} s ({int(sys.argv[3])/s:,.0f} events/s)')" "$import_start" "$(date +%s.%N)" "$events"
serve_start=$(date +%s.%N)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$tools/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
for _ in $(seq 150); do curl -s "http://127.0.0.1:$port" >/dev/null && break; sleep 0.2; done
curl -s -X PUT "http://127.0.0.1:$port/bench-bucket" >/dev/null
AWS_ENDPOINT_URL="http://127.0.0.1:$port" VIGIL_BOOTSTRAP_API_KEY=bench-key-0123456789 RUST_LOG=warn \
    "$vigil" serve --listen 127.0.0.1:0 --allow-private-endpoints --data-dir "$work/data" > "$work/serve.log" 2>&1 &
server_pid=$!
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$server_pid/stat"; }
until grep -q "listening on" "$work/serve.log"; do sleep 0.2; done
url=$(sed -n 's/^vigil listening on //p' "$work/serve.log")
gql() { curl -s -H "Authorization: bench-key-0123456789" "$url/api/audit/graphql" -d "$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1")"; }
id=$(gql 'mutation { createS3AccessKeyExportConfiguration(data: {interval: EVERY_24_HOURS, format: '"$format"', bucket: "bench-bucket", path: "audit", region: "us-east-1", accessKeyId: "bench", secretAccessKey: "bench"}) { id } }' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["createS3AccessKeyExportConfiguration"]["id"])')
head=$(curl -s -H "Authorization: bench-key-0123456789" "$url/metrics" | sed -n 's/^vigil_log_last_seq //p')
# The export is timed alone: first the server indexes and projects what was imported.
echo "waiting for the search index and the governance projection to catch up with the import"
python3 - "$url" "$serve_start" <<'PY'
import json, sys, time, urllib.request
url, start = sys.argv[1], float(sys.argv[2])
done = {}
while len(done) < 2:
    request = urllib.request.Request(url + "/api/audit/status", headers={"Authorization": "bench-key-0123456789"})
    status = json.load(urllib.request.urlopen(request))
    for view in ("indexedSequence", "projectedSequence"):
        if view not in done and status[view] >= status["lastSequence"] - 1:
            done[view] = time.time() - start
            name = "searchable (search index)" if view == "indexedSequence" else "in the reports (governance projection)"
            print(f"{name} {done[view]:.1f} s after the server started")
    time.sleep(0.5)
PY
head=$(curl -s -H "Authorization: bench-key-0123456789" "$url/metrics" | sed -n 's/^vigil_log_last_seq //p')
start=$(date +%s.%N)
cpu_start=$(cpu_seconds)
gql "mutation { exportNow(id: \"$id\") { id } }" >/dev/null
# Polled with curl and sed only, so that the poll takes next to no CPU from the export.
status_query="{\"query\": \"{ getExportConfiguration(id: \\\"$id\\\") { exportStatus { lastExportedSequence lastError } } }\"}"
while true; do
    status=$(curl -s -H "Authorization: bench-key-0123456789" "$url/api/audit/graphql" -d "$status_query")
    done_seq=$(echo "$status" | sed -n 's/.*"lastExportedSequence":\([0-9]*\).*/\1/p')
    [ -n "$done_seq" ] || { echo "unexpected status: $status" >&2; exit 1; }
    [ "$done_seq" -ge "$head" ] && break
    sleep 0.1
done
echo "$status" | grep -o '"lastError":"[^"]*"' >&2 || true
end=$(date +%s.%N)
cpu_end=$(cpu_seconds)
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); cpu=float(sys.argv[5])-float(sys.argv[4]); print(f'exported {n} events in {s:.1f} s: {n/s:,.0f} events/s; server CPU {cpu:.1f} s ({cpu/s:.1f} cores)')" "$start" "$end" "$head" "$cpu_start" "$cpu_end"
size=$(curl -s "http://127.0.0.1:$port/bench-bucket?list-type=2&max-keys=1000" | python3 -c 'import re,sys; print(sum(int(x) for x in re.findall(r"<Size>(\d+)</Size>", sys.stdin.read())))')
echo "$format objects in the bucket: $((size / 1024 / 1024)) MiB, $((size / head)) bytes per event"
