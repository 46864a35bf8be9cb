#!/usr/bin/env bash
# Serves the same file with jdm's NBD server, nbdkit's file plugin (its defaults) and qemu-nbd, each
# on its own Unix socket and its own copy of the file, and measures sequential read and write
# (nbdcopy, whole file) and 4 KiB random read and write IOPS at queue depth 32 (fio's nbd engine).
# Prints a table and the jdm/nbdkit ratios. The files live in /dev/shm (override with
# JDM_BENCH_DIR), so page cache state is the same for all. Each result is the best of 3 rounds
# (JDM_BENCH_REPEAT) that go through the servers in turn, so bursts of other load hit them alike.
# Environment: JDM_BENCH_SIZE_MIB (default 512), JDM_BENCH_RUNTIME seconds per fio job (default 5).
# Takes about 4 minutes on 2 cores.
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

SOURCE=$WORK/source.img
SERVERS="jdm nbdkit qemu-nbd"
declare -A PID
cleanup() {
  for pid in "${PID[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$SOURCE"

uri() { echo "nbd+unix:///disk?socket=$WORK/$1.sock"; }

# Every server gets its own copy of the file, written just before it starts.
start_server() {
  local disk=$WORK/$1.img sock=$WORK/$1.sock
  cp "$SOURCE" "$disk"
  case $1 in
    jdm) "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$CP" dev.jdm.nbd.NbdServer \
           --socket "$sock" --name disk --table "0 $((SIZE_MIB * 2048)) linear $disk 0" 2>"$WORK/$1.log" & ;;
    nbdkit) nbdkit -f -U "$sock" file "$disk" 2>"$WORK/$1.log" & ;;
    qemu-nbd) qemu-nbd -f raw -x disk --persistent --shared=16 -k "$sock" "$disk" 2>"$WORK/$1.log" & ;;
  esac
  PID[$1]=$!
  for _ in $(seq 200); do [ -S "$sock" ] && return; sleep 0.05; done
  echo "nbd.sh: $1 did not start: $(cat "$WORK/$1.log")" >&2; exit 1
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
  fio --name=bench --ioengine=nbd --uri="$1" --rw="$2" --bs=4k --iodepth=32 --size="${SIZE_MIB}M" \
      --runtime="$RUNTIME" --time_based --randrepeat=0 --output-format=json 2>/dev/null |
    python3 -c "import json,sys; s=sys.stdin.read(); j=json.loads(s[s.index('{'):])['jobs'][0]; print(round(j['$3']['iops']))"
}

measure() {
  case $1 in
    seqread) copy_rate "$(uri "$2")" null: ;;
    seqwrite) copy_rate --flush "$SOURCE" "$(uri "$2")" ;;
    randread) fio_iops "$(uri "$2")" randread read ;;
    randwrite) fio_iops "$(uri "$2")" randwrite write ;;
  esac
}

for server in $SERVERS; do
  start_server "$server"
  # Warm-up, the same for every server (and the JIT's chance to compile jdm's data path): not measured.
  nbdcopy "$(uri "$server")" null:
  RUNTIME=2 fio_iops "$(uri "$server")" randrw read >/dev/null
done

# Rounds go through the servers in turn, so a burst of other load on the machine hits them alike;
# each result is the best of its rounds, as other load only ever slows a run down.
declare -A RESULT
for t in seqread seqwrite randread randwrite; do
  for _ in $(seq "$REPEAT"); do
    for server in $SERVERS; do
      v=$(measure "$t" "$server")
      [ "$v" -gt "${RESULT[$server,$t]:-0}" ] && RESULT[$server,$t]=$v
    done
  done
  echo "$t done" >&2
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
