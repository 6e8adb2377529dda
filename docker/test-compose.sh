#!/usr/bin/env bash
# Acceptance test of the docker compose cluster (README, "Docker"). Run from
# anywhere; needs a working Docker engine with compose, curl, awk, and
# ../shared beside the repository (for the scenario's $fixtures).
#
#  1. builds the image (docker/build-images.sh; TESTBED_NO_BUILD=1 reuses
#     target/release binaries as they are)
#  2. starts the compose cluster; the init service joins every node
#  3. writes 3000 points through data1's published port (consistency=all)
#  4. `ctl backup /backups` (the ctl service, backups volume)
#  5. stops data2; 3000 more points at consistency=one are acknowledged and
#     queued in hinted handoff for data2
#  6. starts data2; `ctl hinted-handoff` shows every queue empty
#  7. `ctl restore -db … -newdb … /backups`; SELECT count through the
#     published ports of data1..3: 3000 restored, 6000 in the original
#  8. tears the project down (`down -v`) and checks that none of its
#     containers, networks or volumes is left
#  9. `scenarios run --compose docker/docker-compose.yml scenarios/docker/`
#
# Every docker command is bounded by `timeout`; the EXIT trap removes what
# the test created, also when it fails or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

FILE=docker/docker-compose.yml
PROJECT="${TESTBED_TEST_PROJECT:-influx-testbed-test}"
SCN_PROJECT="$PROJECT-scenarios"
# Its own published ports (18286…), beside a cluster started by hand (180).
export TESTBED_PORT_PREFIX="${TESTBED_PORT_PREFIX:-182}"
P="$TESTBED_PORT_PREFIX"
DATA_HTTP=("127.0.0.1:${P}86" "127.0.0.1:${P}87" "127.0.0.1:${P}88")
DB=dockertest
START=$SECONDS

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  COMPOSE=(docker-compose)
fi

log() { echo "test-compose [$((SECONDS - START))s]: $*" >&2; }
fail() { echo "test-compose: FAIL: $*" >&2; exit 1; }
# compose SECS ARGS…: one bounded compose command on the test's project.
compose() { local t=$1; shift; timeout "$t" "${COMPOSE[@]}" -f "$FILE" -p "$PROJECT" "$@"; }
# ctl ARGS…: `docker compose run --rm ctl ARGS…` (bound to meta1, /backups mounted).
ctl() { compose 120 run --rm -T ctl "$@" 2> >(grep -v -e '^Creating ' -e '^Starting ' >&2); }

leftovers() {
  local p=$1
  {
    timeout 30 docker ps -aq --filter "label=com.docker.compose.project=$p"
    timeout 30 docker network ls -q --filter "label=com.docker.compose.project=$p"
    timeout 30 docker volume ls -q --filter "label=com.docker.compose.project=$p"
  } | wc -l
}

teardown() {
  local p=$1
  timeout 120 "${COMPOSE[@]}" -f "$FILE" -p "$p" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
  # Whatever `down` left (a killed compose, a ctl container still running).
  timeout 60 docker ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r timeout 60 docker rm -f >/dev/null 2>&1 || true
  timeout 60 docker network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r timeout 60 docker network rm >/dev/null 2>&1 || true
  timeout 60 docker volume ls -q --filter "label=com.docker.compose.project=$p" | xargs -r timeout 60 docker volume rm >/dev/null 2>&1 || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ $rc -ne 0 ]]; then
    echo "test-compose: failed (exit $rc); last logs:" >&2
    compose 60 ps >&2 2>/dev/null || true
    compose 60 logs --no-color --tail 15 >&2 2>/dev/null || true
  fi
  teardown "$PROJECT"
  teardown "$SCN_PROJECT"
  log "removed projects $PROJECT and $SCN_PROJECT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# until SECS WHAT CMD…: reruns CMD until it succeeds.
until_ok() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what (not within ${secs}s)"
    sleep 1
  done
}

ping() { curl -fsS -m 5 -o /dev/null "http://$1/ping"; }
query() { curl -fsS -m 30 -XPOST "http://$1/query?db=${3:-}" --data-urlencode "q=$2"; }
# count ADDR DB: the sum of count(v) over every measurement.
count() {
  query "$1" 'SELECT count(v) FROM /.*/' "$2" \
    | grep -o '"1970-01-01T00:00:00Z",[0-9]*' | awk -F, '{ s += $2 } END { print s + 0 }'
}
# lines MEASUREMENT: 600 points for each of 5 series, one every 36s over the
# last six hours (six one-hour shard groups: their owners rotate, so data2
# owns some).
lines() {
  awk -v m="$1" -v now="$(date +%s)" 'BEGIN {
    for (i = 0; i < 600; i++) for (s = 0; s < 5; s++)
      printf "%s,host=h%d v=%di %d000000000\n", m, s, i, now - 21600 + i * 36 }'
}
write() { # write ADDR CONSISTENCY MEASUREMENT
  local resp
  resp=$(lines "$3" | curl -sS -m 60 -w '\n%{http_code}' -XPOST \
    "http://$1/write?db=$DB&consistency=$2" --data-binary @-)
  [[ ${resp##*$'\n'} == 204 ]] || fail "write of $3 at consistency=$2 to $1: HTTP ${resp//$'\n'/ }"
}
# Queued writes (column 6 of `ctl hinted-handoff`) toward data2, and in all.
# (ctl exits 1 while data2 is unreachable; the queues of the others are listed.)
queued_for_data2() {
  { ctl hinted-handoff || true; } | awk 'NR > 3 && $4 ~ /^data2:/ { s += $6 } END { print s + 0 }'
}
hh_drained() {
  local out
  out=$(ctl hinted-handoff) || return 1
  awk 'NR > 3 { s += $6 } END { exit s != 0 }' <<<"$out"
}

log "1. image"
if [[ -n "${TESTBED_NO_BUILD:-}" ]]; then
  timeout 600 docker/build-images.sh --no-build
else
  timeout 3600 docker/build-images.sh
fi

log "2. start ($PROJECT, ${COMPOSE[*]}, ports ${P}86-${P}88, ${P}91-${P}93)"
teardown "$PROJECT"
compose 300 up -d
init=$(compose 30 ps -q init)
deadline=$((SECONDS + 180))
while :; do
  state=$(timeout 30 docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$init")
  case $state in
    "exited 0") break ;;
    exited*) compose 30 logs --no-color init >&2; fail "init service: $state" ;;
  esac
  ((SECONDS < deadline)) || fail "init service did not finish: $state"
  sleep 1
done
compose 30 logs --no-color init | grep -q 'Cluster ready: 3 meta nodes, 3 data nodes' \
  || fail "init did not report the cluster ready"
for a in "${DATA_HTTP[@]}"; do until_ok 60 "$a answers /ping" ping "$a"; done
ctl show | grep -c '^[456] .*data[123]:8088' | grep -qx 3 || fail "ctl show lacks data1..3"

log "3. write 3000 points (consistency=all)"
query "${DATA_HTTP[0]}" "CREATE DATABASE $DB WITH SHARD DURATION 1h" >/dev/null
write "${DATA_HTTP[0]}" all cpu
[[ $(count "${DATA_HTTP[0]}" $DB) == 3000 ]] || fail "count after the first write: $(count "${DATA_HTTP[0]}" $DB)"

log "4. ctl backup /backups"
ctl backup /backups | tail -1 | grep '^Backed up to /backups' || fail "ctl backup"

log "5. stop data2; write 3000 points at consistency=one"
compose 60 stop -t 5 data2
write "${DATA_HTTP[0]}" one mem
q=$(queued_for_data2)
log "   $q writes queued for data2"
((q > 0)) || fail "nothing was queued in hinted handoff for data2"

log "6. start data2; hinted handoff drains"
compose 60 start data2
until_ok 60 "data2 answers /ping" ping "${DATA_HTTP[1]}"
until_ok 120 "hinted-handoff queues drained" hh_drained
ctl hinted-handoff >&2

log "7. ctl restore -db $DB -newdb ${DB}_restored /backups"
ctl restore -db $DB -newdb "${DB}_restored" /backups | tail -1 | grep '^Restored from /backups' \
  || fail "ctl restore"
for a in "${DATA_HTTP[@]}"; do
  r=$(count "$a" "${DB}_restored")
  o=$(count "$a" "$DB")
  log "   $a: ${DB}_restored $r points, $DB $o points"
  [[ $r == 3000 ]] || fail "$a: ${DB}_restored has $r points, not 3000"
  [[ $o == 6000 ]] || fail "$a: $DB has $o points, not 6000"
done

log "8. tear down"
compose 120 down -v --remove-orphans -t 5
n=$(leftovers "$PROJECT")
[[ $n == 0 ]] || fail "$n containers, networks or volumes of $PROJECT are left"

log "9. scenarios run --compose $FILE scenarios/docker/"
timeout 1200 cargo build -q -p scenarios
TESTBED_COMPOSE_PROJECT="$SCN_PROJECT" TESTBED_COMPOSE="${COMPOSE[*]}" \
  timeout 900 ./target/debug/scenarios run --timeout 600 --compose "$FILE" scenarios/docker/
n=$(leftovers "$SCN_PROJECT")
[[ $n == 0 ]] || fail "$n containers, networks or volumes of $SCN_PROJECT are left"

log "PASS"
