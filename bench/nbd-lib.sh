# Shared by the NBD benchmarks (nbd.sh, crypt-nbd.sh): build jdm's NBD server (jdm-bench's NbdServerMain), make a work folder
# in /dev/shm, measure nbdcopy rates and fio nbd IOPS, run best-of-N rounds over servers in turn, and
# print a table with the ratio of two servers. A script sources it, defines SERVERS and
# start_server NAME (serving export "disk" on $WORK/NAME.sock, recording PID[NAME]), then calls
# run_benchmark "<numerator server>" "<denominator server>".
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for tool in nbdcopy fio python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (Debian: libnbd-bin fio python3)" >&2; exit 1; }
done
fio --enghelp 2>/dev/null | grep -qw nbd || { echo "bench: this fio has no nbd ioengine" >&2; exit 1; }

# Each module on its own: the reactor would also need every other module of the tree to build.
for module in jdm-core jdm-targets jdm-formats jdm-nbd jdm-bench; do
  ./mvnw -q -f "$module/pom.xml" install -DskipTests
done
. .mvn/find-jdk.sh
CP=jdm-bench/target/jdm-bench.jar

SIZE_MIB=${JDM_BENCH_SIZE_MIB:-512}
RUNTIME=${JDM_BENCH_RUNTIME:-5}
REPEAT=${JDM_BENCH_REPEAT:-3}
WORK=$(mktemp -d "${JDM_BENCH_DIR:-/dev/shm}/jdm-nbd-bench.XXXXXX")
SOURCE=$WORK/source.img
declare -A PID
cleanup() {
  for pid in "${PID[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$SOURCE"

uri() { echo "nbd+unix:///disk?socket=$WORK/$1.sock"; }

# Starts jdm's standalone NBD server on $WORK/NAME.sock serving TABLE as export "disk".
start_jdm() {
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$CP" dev.jdm.bench.NbdServerMain \
    --socket "$WORK/$1.sock" --name disk --table "$2" 2>"$WORK/$1.log" &
  PID[$1]=$!
}

wait_for_socket() {
  for _ in $(seq 200); do [ -S "$WORK/$1.sock" ] && return; sleep 0.05; done
  echo "bench: $1 did not start: $(cat "$WORK/$1.log")" >&2; exit 1
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

run_benchmark() {
  for server in $SERVERS; do
    start_server "$server"
    # Warm-up, the same for every server (and the JIT's chance to compile jdm's read and write
    # paths): not measured. The write puts back the bytes the disk already holds.
    nbdcopy "$(uri "$server")" null:
    nbdcopy "$SOURCE" "$(uri "$server")"
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
  printf '\n| %-22s |' "test (${SIZE_MIB} MiB file)"; for s in $SERVERS; do printf ' %9s |' "$s"; done; printf ' %12s |\n' "$1/$2"
  printf '|%s|' "------------------------"; for s in $SERVERS; do printf '%s|' "-----------"; done; printf '%s|\n' "--------------"
  for t in seqread seqwrite randread randwrite; do
    case $t in
      seqread) label="seq read MiB/s";; seqwrite) label="seq write MiB/s";;
      randread) label="4k rand read IOPS QD32";; randwrite) label="4k rand write IOPS QD32";;
    esac
    ratio=$(python3 -c "print(f'{${RESULT[$1,$t]} / ${RESULT[$2,$t]}:.2f}')")
    printf '| %-22s |' "$label"; for s in $SERVERS; do printf ' %9s |' "${RESULT[$s,$t]}"; done; printf ' %12s |\n' "$ratio"
  done
}
