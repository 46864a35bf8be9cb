#!/usr/bin/env bash
# Serves the same file with jdm's NBD server, nbdkit's file plugin (its defaults) and qemu-nbd, each
# on a Unix socket in turn, and measures sequential read and write (nbdcopy, whole file) and 4 KiB
# random read and write IOPS at queue depth 32 (fio's nbd engine). Prints a table and the
# jdm/nbdkit ratios. The file lives in /dev/shm (override with JDM_BENCH_DIR) and is rewritten
# before each server so page cache state is the same for all. Takes about 4 minutes on 2 cores.
# Each measurement is the best of 3 runs (JDM_BENCH_REPEAT), as other load only slows a run down.
# Environment: JDM_BENCH_SIZE_MIB (default 512), JDM_BENCH_RUNTIME seconds per fio job (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in nbdkit qemu-nbd nbdcopy fio python3; do
  command -v "$tool" >/dev/null || { echo "nbd.sh: $tool is missing (Debian: nbdkit qemu-utils libnbd-bin fio python3)" >&2; exit 1; }
done
fio --enghelp 2>/dev/null | grep -qw nbd || { echo "nbd.sh: this fio has no nbd ioengine" >&2; exit 1; }

# Each module on its own: the reactor would also need every other module of the tree to build.
for module in jdm-core jdm-targets jdm-nbd; do
  ./mvnw -q -f "$module/pom.xml" install -DskipTests
done
. .mvn/find-jdk.sh
./mvnw -q -f jdm-nbd/pom.xml dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile=target/nbd-bench.classpath
CP="jdm-nbd/target/classes:$(cat jdm-nbd/target/nbd-bench.classpath)"

SIZE_MIB=${JDM_BENCH_SIZE_MIB:-512}
RUNTIME=${JDM_BENCH_RUNTIME:-5}
REPEAT=${JDM_BENCH_REPEAT:-3}
WORK=$(mktemp -d "${JDM_BENCH_DIR:-/dev/shm}/jdm-nbd-bench.XXXXXX")
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

DISK=$WORK/disk.img
SOURCE=$WORK/source.img
SOCK=$WORK/nbd.sock
URI="nbd+unix:///disk?socket=$SOCK"
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$SOURCE"

start_server() {
  rm -f "$SOCK" "$DISK"
  cp "$SOURCE" "$DISK"
  case $1 in
    jdm) "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$CP" dev.jdm.nbd.NbdServer \
           --socket "$SOCK" --name disk --table "0 $((SIZE_MIB * 2048)) linear $DISK 0" 2>"$WORK/server.log" & ;;
    nbdkit) nbdkit -f -U "$SOCK" file "$DISK" 2>"$WORK/server.log" & ;;
    qemu-nbd) qemu-nbd -f raw -x disk --persistent --shared=16 -k "$SOCK" "$DISK" 2>"$WORK/server.log" & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 200); do [ -S "$SOCK" ] && return; sleep 0.05; done
  echo "nbd.sh: $1 did not start: $(cat "$WORK/server.log")" >&2; exit 1
}

stop_server() {
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

# The best of REPEAT runs: other load on the machine only ever makes a run slower.
best() {
  local best=0 v
  for _ in $(seq "$REPEAT"); do
    v=$("$@")
    [ "$v" -gt "$best" ] && best=$v
  done
  echo "$best"
}

# MiB/s of one nbdcopy run.
copy_rate() {
  local start end
  start=$(date +%s.%N)
  nbdcopy "$@"
  end=$(date +%s.%N)
  python3 -c "print(round($SIZE_MIB / ($end - $start)))"
}

fio_iops() {
  fio --name=bench --ioengine=nbd --uri="$URI" --rw="$1" --bs=4k --iodepth=32 --size="${SIZE_MIB}M" \
      --runtime="$RUNTIME" --time_based --randrepeat=0 --output-format=json 2>/dev/null |
    python3 -c "import json,sys; s=sys.stdin.read(); j=json.loads(s[s.index('{'):])['jobs'][0]; print(round(j['$2']['iops']))"
}

declare -A RESULT
for server in jdm nbdkit qemu-nbd; do
  start_server "$server"
  # Warm-up, the same for every server (and the JIT's chance to compile jdm's data path): not measured.
  nbdcopy "$URI" null:
  RUNTIME=2 fio_iops randrw read >/dev/null
  RESULT[$server,seqread]=$(best copy_rate "$URI" null:)
  RESULT[$server,seqwrite]=$(best copy_rate --flush "$SOURCE" "$URI")
  RESULT[$server,randread]=$(best fio_iops randread read)
  RESULT[$server,randwrite]=$(best fio_iops randwrite write)
  stop_server
  echo "$server done" >&2
done

printf '\n| %-22s | %9s | %9s | %9s | %12s |\n' "test (${SIZE_MIB} MiB file)" jdm nbdkit qemu-nbd "jdm/nbdkit"
printf '|%s|%s|%s|%s|%s|\n' "------------------------" "-----------" "-----------" "-----------" "--------------"
for t in seqread seqwrite randread randwrite; do
  case $t in
    seqread) label="seq read MiB/s";; seqwrite) label="seq write MiB/s";;
    randread) label="4k rand read IOPS QD32";; randwrite) label="4k rand write IOPS QD32";;
  esac
  ratio=$(python3 -c "print(f'{${RESULT[jdm,$t]} / ${RESULT[nbdkit,$t]}:.2f}')")
  printf '| %-22s | %9s | %9s | %9s | %12s |\n' "$label" "${RESULT[jdm,$t]}" "${RESULT[nbdkit,$t]}" "${RESULT[qemu-nbd,$t]}" "$ratio"
done
