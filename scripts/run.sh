#!/usr/bin/env bash
# Brings the whole local stack up: Postgres and Redis (scripts/deps.sh), the
# provider simulators, the four services and the gateway, with prefixed logs.
# Ctrl-C stops everything. Binaries come from bin/ (make build).
set -euo pipefail
cd "$(dirname "$0")/.."

export TANDEM_DATABASE_URL=${TANDEM_DATABASE_URL:-postgres://postgres@localhost:5432/tandem?sslmode=disable}
export TANDEM_REDIS_URL=${TANDEM_REDIS_URL:-redis://localhost:6379/0}
export TANDEM_LOG_FORMAT=${TANDEM_LOG_FORMAT:-text}
# Reflection (grpcurl list) is for development; production leaves it off.
export TANDEM_GRPC_REFLECTION=${TANDEM_GRPC_REFLECTION:-true}
# Candidates' files go to a local directory (make clean removes it); production
# names an s3:// bucket.
export TANDEM_FILES_BUCKET_URL=${TANDEM_FILES_BUCKET_URL:-file://$PWD/.run/files?create_dir=true}

scripts/deps.sh

pids=()
names=()

start() {
  local name=$1; shift
  "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
  names+=("$name")
}

stopping=0
stop() {
  [ "$stopping" = 1 ] && return
  stopping=1
  echo "[run] stopping..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  # Everything gets 12 seconds to drain, then is killed.
  for _ in $(seq 1 120); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "[run] stopped"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

if [ -x bin/providersim ]; then
  # The webhook receiver is local http, which Graph refuses; the sim allows loopback.
  start providersim bin/providersim -allow-http-loopback
fi
# Events between services (ADR 15): identity tells mailbox about mailbox
# connections and atsbridge about the ATS connection; mailbox tells
# outreach what it sent and what came back. Identity's Lever OAuth and
# atsbridge's Lever API default to the simulator (9205, 9204).
start identity env TANDEM_EVENT_SUBSCRIBERS=mailbox=localhost:9104,atsbridge=localhost:9103 \
  TANDEM_EVENT_ROUTES='mailbox=mailbox.*,atsbridge=ats.*' bin/identity
# outreach tells atsbridge of enrollments and stage moves (pushes to the ATS).
start outreach env TANDEM_EVENT_SUBSCRIBERS=atsbridge=localhost:9103 TANDEM_EVENT_ROUTES='atsbridge=enrollment.created|candidate.stage_changed|note.created' bin/outreach
# atsbridge mirrors the ATS's postings into outreach's jobs; it reads
# Tandem's stages from outreach and outreach checks flow links with it
# (default addresses).
# Lever posts its webhooks to the gateway's /webhooks/lever/<connection>.
start atsbridge env TANDEM_EVENT_SUBSCRIBERS=outreach=localhost:9102 TANDEM_EVENT_ROUTES='outreach=ats.job_synced|ats.linked|ats.stage_changed' \
  TANDEM_WEBHOOK_BASE_URL="${TANDEM_WEBHOOK_BASE_URL:-http://localhost:8080}" bin/atsbridge
# Graph posts the mailboxes' notifications to the gateway's /webhooks/graph.
start mailbox env TANDEM_EVENT_SUBSCRIBERS=outreach=localhost:9102 TANDEM_EVENT_ROUTES='outreach=message.sent|message.received' \
  TANDEM_GRAPH_URL="${TANDEM_GRAPH_URL:-http://127.0.0.1:9202}" TANDEM_WEBHOOK_BASE_URL="${TANDEM_WEBHOOK_BASE_URL:-http://localhost:8080}" bin/mailbox
start gateway bin/gateway

# Wait until the gateway says every service is SERVING.
ready=0
for _ in $(seq 1 600); do
  if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && \
     [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/readyz)" = 200 ]; then
    ready=1; break
  fi
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "[run] ${names[$i]} exited during start-up; see its log above" >&2
      exit 1
    fi
  done
  sleep 0.1
done
if [ "$ready" = 1 ]; then
  cat <<MSG
[run] Tandem is up.
[run]   REST gateway     http://localhost:8080   (/readyz, /healthz, /openapi.json)
[run]   identity gRPC    localhost:9101
[run]   outreach gRPC    localhost:9102
[run]   atsbridge gRPC   localhost:9103
[run]   mailbox gRPC     localhost:9104
MSG
  if [ -x bin/providersim ]; then
    echo "[run]   Microsoft identity platform (simulated)  http://localhost:9201"
    echo "[run]   Microsoft Graph (simulated)              http://localhost:9202"
    ashby_key=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      ashby_key=$(curl -s --max-time 2 http://127.0.0.1:9203/_sim/ashby/orgs | grep -o '"key":"[^"]*"' | head -1 | cut -d'"' -f4 || true)
      [ -n "$ashby_key" ] && break
      sleep 0.3
    done
    echo "[run]   Ashby API (simulated)                    http://localhost:9203   demo API key ${ashby_key:-(see the providersim banner)}"
    echo "[run]     e.g. curl -s -u ${ashby_key:-KEY}: -H 'Content-Type: application/json' -d '{}' http://localhost:9203/candidate.list"
    echo "[run]   Lever Data API (simulated)               http://localhost:9204/v1"
    echo "[run]   Lever OAuth (simulated)                  http://localhost:9205/authorize"
    echo "[run]     connect Lever as the Super Admin megan.bowen@contoso.example (no password);"
    echo "[run]     adele.vance@contoso.example is a team member, whom Lever refuses."
    echo "[run]     app tandem-local / tandem-local-secret, audience https://api.lever.co/v1/"
  fi
  echo "[run] Ctrl-C stops everything."
else
  echo "[run] not ready after 60s; see the logs above (curl http://localhost:8080/readyz)" >&2
fi

# make_interrupted tells whether our parent, `make run`, has caught SIGINT.
# A terminal's Ctrl-C reaches every process of the group, us included, but a
# SIGINT sent to make's pid alone does not: GNU make then waits for its
# children without passing the signal on. While make runs its handler, SIGINT
# is in its blocked mask, which /proc shows.
make_interrupted() {
  [ -r "/proc/$PPID/status" ] || return 1
  [ "$(cat "/proc/$PPID/comm" 2>/dev/null)" = make ] || return 1
  local mask
  mask=$(awk '/^SigBlk:/ {print $2}' "/proc/$PPID/status")
  [ -n "$mask" ] && (( 0x$mask & 0x2 ))
}

# Stay until told to stop, reporting any process that exits on its own.
while [ "$stopping" = 0 ] && [ ${#pids[@]} -gt 0 ]; do
  if make_interrupted; then
    stop
    exit 130
  fi
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "[run] ${names[$i]} exited" >&2
      unset 'pids[i]' 'names[i]'
    fi
  done
  sleep 1
done
