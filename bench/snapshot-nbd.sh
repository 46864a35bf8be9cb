#!/usr/bin/env bash
# End to end over NBD: jdm's NBD server (NbdServerMain) serving linear over a file, and serving
# snapshot-origin over a copy of the same file with one persistent snapshot (64 KiB chunks, a fresh
# sparse COW) beside it. Per server: a sequential write of the whole device with nbdcopy --flush (with
# the snapshot, every write is the first into its chunk: copy, commit, then write), then 4 KiB random
# writes at queue depth 32 with fio (chunks already copied). Rounds alternate the servers; each rate is
# the best of JDM_BENCH_REPEAT rounds (default 3). Files in /dev/shm unless JDM_BENCH_DIR is set.
# JDM_BENCH_SIZE_MIB (default 512), JDM_BENCH_RUNTIME seconds per fio job (default 5).
# The build is `package` (not `install`). About 2 minutes per file system on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in nbdcopy fio python3; do
  command -v "$tool" >/dev/null || { echo "snapshot-nbd: $tool is missing (Debian: libnbd-bin fio python3)" >&2; exit 1; }
done
./mvnw -o -q -B package -DskipTests -pl jdm-bench -am
. .mvn/find-jdk.sh
CP=jdm-bench/target/jdm-bench.jar
SIZE_MIB=${JDM_BENCH_SIZE_MIB:-512}
RUNTIME=${JDM_BENCH_RUNTIME:-5}
REPEAT=${JDM_BENCH_REPEAT:-3}
SECTORS=$((SIZE_MIB * 2048))
WORK=$(mktemp -d "${JDM_BENCH_DIR:-/dev/shm}/jdm-snapshot-nbd.XXXXXX")
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$WORK/source.img"
echo "files in $WORK ($(df --output=fstype "$WORK" | tail -1 | tr -d ' ')), $SIZE_MIB MiB, best of $REPEAT rounds"
uptime

start() {
  local disk=$WORK/$1.img
  cp "$WORK/source.img" "$disk"
  rm -f "$WORK/$1.sock" "$WORK/$1.cow"
  case $1 in
    linear) set -- "$1" --table "0 $SECTORS linear $disk 0" ;;
    snapshot)
      # Room for every chunk of the origin, its metadata areas and the header.
      truncate -s "$(( (SIZE_MIB << 20) * 102 / 100 + (1 << 20) ))" "$WORK/$1.cow"
      set -- "$1" --device "snap=0 $SECTORS snapshot $disk $WORK/$1.cow P 128" --table "0 $SECTORS snapshot-origin $disk" ;;
  esac
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$CP" dev.jdm.bench.NbdServerMain \
    --socket "$WORK/$1.sock" --name disk "${@:2}" 2>"$WORK/$1.log" &
  SERVER_PID=$!
  for _ in $(seq 200); do [ -S "$WORK/$1.sock" ] && return; sleep 0.05; done
  echo "snapshot-nbd: $1 did not start: $(cat "$WORK/$1.log")" >&2; exit 1
}

stop() {
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

uri() { echo "nbd+unix:///disk?socket=$WORK/$1.sock"; }

declare -A BEST
keep_best() { # key value
  if [ -z "${BEST[$1]:-}" ] || [ "$2" -gt "${BEST[$1]}" ]; then BEST[$1]=$2; fi
}

for round in $(seq "$REPEAT"); do
  servers="linear snapshot"; [ $((round % 2)) -eq 0 ] && servers="snapshot linear"
  for s in $servers; do
    start "$s"
    t0=$(date +%s.%N)
    nbdcopy --flush "$WORK/source.img" "$(uri "$s")"
    t1=$(date +%s.%N)
    keep_best "$s seqwrite" "$(python3 -c "print(round($SIZE_MIB / ($t1 - $t0)))")"
    iops=$(fio --name=bench --ioengine=nbd --uri="$(uri "$s")" --rw=randwrite --bs=4k --iodepth=32 --size="${SIZE_MIB}M" \
        --runtime="$RUNTIME" --time_based --randrepeat=0 --output-format=json 2>/dev/null |
      python3 -c "import json,sys; s=sys.stdin.read(); print(round(json.loads(s[s.index('{'):])['jobs'][0]['write']['iops']))")
    keep_best "$s randwrite" "$iops"
    stop
  done
done

echo
echo "| operation | linear | snapshot-origin + 1 snapshot | ratio | goal |"
echo "|---|---:|---:|---:|---:|"
row() { # key unit label goal
  python3 -c "print('| $3 | ${BEST[linear $1]} $2 | ${BEST[snapshot $1]} $2 | %.3f | $4 |' % (${BEST[snapshot $1]} / ${BEST[linear $1]}))"
}
row seqwrite MiB/s "nbdcopy --flush, whole device (first writes into every chunk)" ">= 0.3"
row randwrite IOPS "fio 4 KiB random writes, QD 32 (chunks copied)" ">= 0.9"
