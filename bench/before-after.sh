#!/usr/bin/env bash
# Compares the hot paths of two builds in one run, so a change that reshapes the code (issue 12) can
# show it made nothing slower: the in-process JMH benchmarks of the core I/O path, crypt and thin, and
# NBD through the daemon started the way users start it (`jdm daemon`), with the device's file on ext4
# (the work disk) and on tmpfs. The builds take turns round by round, so load from elsewhere weighs on
# both; the last table prints after/before for every benchmark (higher is better for every row).
#
#   bench/before-after.sh [BEFORE_REV [AFTER_REV]]     default: HEAD~1 against the working tree
#
# JDM_BA_ROUNDS (default 2) rounds of each side; JDM_BA_PARTS (default "core crypt thin nbd") picks
# parts; JDM_BA_DISK (default /var/tmp) is the ext4 folder. About 25 minutes on 2 cores with defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
before_rev=${1:-HEAD~1}
after_rev=${2:-}
rounds=${JDM_BA_ROUNDS:-2}
parts=${JDM_BA_PARTS:-core crypt thin nbd}
disk=${JDM_BA_DISK:-/var/tmp}
. .mvn/find-jdk.sh
for tool in nbdcopy fio python3 thin_restore; do
  command -v "$tool" >/dev/null || { echo "before-after: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d /var/tmp/jdm-before-after.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for tree in "$work"/tree-*; do [ -d "$tree" ] && git worktree remove --force "$tree"; done
  rm -rf "$work" /dev/shm/jdm-before-after-*
}
trap cleanup EXIT

# Builds a revision (or the working tree) with `package` only: `install` would replace the snapshot
# jars other checkouts resolve.
build() {
  local side=$1 rev=$2 tree
  if [ -z "$rev" ]; then
    tree=$root
  else
    tree=$work/tree-$side
    git worktree add -q --detach "$tree" "$rev"
  fi
  (cd "$tree" && ./mvnw -q -B -o package -DskipTests >"$work/build-$side.log" 2>&1) \
    || { echo "before-after: building $side (${rev:-working tree}) failed: $work/build-$side.log" >&2; exit 1; }
  mkdir -p "$work/$side"
  cp "$tree/jdm-bench/target/jdm-bench.jar" "$tree/jdm-cli/target/jdm.jar" "$work/$side/"
}
echo "building before ($before_rev) and after (${after_rev:-working tree})" >&2
build before "$before_rev"
build after "$after_rev"

jmh() {
  local side=$1 round=$2 part=$3
  shift 3
  "$JAVA_HOME/bin/java" -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$work/$side/jdm-bench.jar" org.openjdk.jmh.Main \
    "$@" -f 1 -wi 2 -w 1s -i 4 -r 1s -foe true -jvmArgsAppend --enable-native-access=ALL-UNNAMED \
    -rf csv -rff "$work/results/$part-$side-$round.csv" >"$work/results/$part-$side-$round.log" 2>&1 \
    || { echo "before-after: $part ($side) failed: $work/results/$part-$side-$round.log" >&2; exit 1; }
}

# NBD through the daemon: a 512 MiB linear device over a file in $3 (named $4 in the table), written by nbdcopy from random
# bytes, read back by nbdcopy, then fio 4 KiB random reads and writes at queue depth 32; one CSV row
# per measure in JMH's shape so one summary reads both.
nbd() {
  local side=$1 round=$2 where=$3 label=$4 dir sock csv
  sync  # the previous run's dirty pages are written back before this one starts
  dir=$(mktemp -d "$where/jdm-before-after-nbd.XXXXXX")
  sock=$dir/nbd.sock
  csv=$work/results/nbd-$label-$side-$round.csv
  truncate -s 512M "$dir/disk.img"
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$work/$side/jdm.jar" daemon --data-dir "$dir" \
    --socket "$dir/jdm.sock" --nbd-socket "$sock" --no-nbd-tcp >"$dir/daemon.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 300); do [ -S "$sock" ] && [ -S "$dir/jdm.sock" ] && break; sleep 0.1; done
  JDM_SOCKET=$dir/jdm.sock "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$work/$side/jdm.jar" \
    create bench --table "0 1048576 linear $dir/disk.img 0" >/dev/null
  local uri="nbd+unix:///bench?socket=$sock"
  echo '"Benchmark","Mode","Threads","Samples","Score","Score Error (99.9%)","Unit"' >"$csv"
  local t0 t1
  t0=$(date +%s.%N); nbdcopy "$work/source.img" "$uri"; t1=$(date +%s.%N)
  echo "\"nbd.$label.seqWrite\",\"thrpt\",1,1,$(python3 -c "print(512/($t1-$t0))"),NaN,\"MiB/s\"" >>"$csv"
  sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
  t0=$(date +%s.%N); nbdcopy "$uri" null:; t1=$(date +%s.%N)
  echo "\"nbd.$label.seqRead\",\"thrpt\",1,1,$(python3 -c "print(512/($t1-$t0))"),NaN,\"MiB/s\"" >>"$csv"
  for rw in randread randwrite; do
    local iops
    iops=$(fio --name=ba --ioengine=nbd --uri="$uri" --rw=$rw --bs=4k --iodepth=32 --size=512M --runtime=5 \
      --time_based --randrepeat=0 --output-format=json 2>/dev/null |
      python3 -c "import json,sys; s=sys.stdin.read(); j=json.loads(s[s.index('{'):])['jobs'][0]; print(j['${rw#rand}']['iops'])")
    echo "\"nbd.$label.$rw\",\"thrpt\",1,1,$iops,NaN,\"IOPS\"" >>"$csv"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

mkdir -p "$work/results"
head -c 512M /dev/urandom >"$work/source.img"
uptime >&2
for round in $(seq "$rounds"); do
  # Odd rounds run before first, even rounds after first: neither build always inherits the other's
  # dirty pages and warm caches.
  order="before after"
  [ $((round % 2)) -eq 0 ] && order="after before"
  for side in $order; do
    echo "round $round: $side" >&2
    for part in $parts; do
      case $part in
        core) jmh "$side" "$round" core 'CoreIoBenchmark\.(randomRead4K|randomWrite4K|sequentialRead1M|sequentialWrite1M)$' -p path=jdm ;;
        crypt) jmh "$side" "$round" crypt 'CryptBenchmark\.(encrypt1|decrypt1)$' ;;
        thin) jmh "$side" "$round" thin 'ThinBenchmark\.(overwrite|read)$' -p io=4096 ;;
        nbd) nbd "$side" "$round" "$disk" ext4; nbd "$side" "$round" /dev/shm tmpfs ;;
      esac
    done
  done
done
uptime >&2

# Mean primary score per benchmark and parameters on each side, and their ratio.
python3 - "$work/results" <<'EOF'
import csv, glob, os, sys
from collections import defaultdict
scores = defaultdict(lambda: defaultdict(list))
counters = defaultdict(dict)
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.csv"))):
    side = "after" if "-after-" in os.path.basename(path) else "before"
    round_of = int(os.path.basename(path).rsplit("-", 1)[1].split(".")[0])
    with open(path) as f:
        for row in csv.DictReader(f):
            params = " ".join(f"{k[7:]}={v}" for k, v in row.items() if k.startswith("Param: "))
            name = row["Benchmark"].replace("dev.jdm.bench.", "")
            if ":" in name:  # a CPU account's counters: ops per CPU second is derived below
                base, counter = name.split(":", 1)
                counters[(base, params, path)][counter] = float(row["Score"])
                continue
            scores[(name, params, row["Unit"])][side].append((round_of, float(row["Score"])))
for (base, params, path), c in counters.items():
    if c.get("cpuNanos"):
        side = "after" if "-after-" in os.path.basename(path) else "before"
        round_of = int(os.path.basename(path).rsplit("-", 1)[1].split(".")[0])
        scores[(base + " per CPU s", params, "ops/cpu-s")][side].append((round_of, c["ops"] / c["cpuNanos"] * 1e9))
# Rounds are listed in order, so a drift over the run shows as a trend on both sides.
def rounds(values):
    return " ".join(f"{v:.4g}" for v in values)
print(f"{'benchmark':58} {'unit':>10} {'before':>12} {'after':>12} {'after/before':>12}   rounds before | after")
for (name, params, unit), sides in sorted(scores.items()):
    sides = {k: [v for _, v in sorted(sides.get(k, []))] for k in ("before", "after")}
    b = sum(sides["before"]) / len(sides["before"]) if sides["before"] else float("nan")
    a = sum(sides["after"]) / len(sides["after"]) if sides["after"] else float("nan")
    print(f"{(name + ' ' + params).strip():58} {unit:>10} {b:12.1f} {a:12.1f} {a / b:12.3f}   "
          f"{rounds(sides['before'])} | {rounds(sides['after'])}")
EOF
