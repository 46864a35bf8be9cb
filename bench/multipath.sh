#!/usr/bin/env bash
# Multipath end to end, on "other machines": two path servers (jdm daemons, each in a network namespace of its
# own behind a veth pair, serving a linear table over ONE shared file as export "disk" on its own address) and a
# client jdm daemon here with tables over nbd://ADDR:10809/disk, measured with fio's nbd engine on the client's
# Unix socket. Prints:
#  - throughput, two healthy paths (round-robin) / one path (a multipath table over one of them), 4k random
#    read IOPS at QD32 and 1 MiB sequential read MiB/s;
#  - the same where each path is the bottleneck: each veth limited to JDM_BENCH_LINK_MBIT (tbf, both ways);
#  - failover time: a path server's kill -9, then its link cut, under 4k random reads at QD1 through the
#    round-robin device: the longest an I/O took (the one that met the dead path and was retried on the other)
#    and the typical (median) one, against --nbd-timeout and --path-check-interval;
#  - the multipath layer's own CPU per I/O: the client daemon's CPU time (/proc/PID/stat) per 4k random read,
#    multipath over one path vs linear over the same export.
# Runs once for a shared file on tmpfs (/dev/shm) and once on the work disk (/var/tmp, ext4); override with
# JDM_BENCH_DIRS. Needs root (namespaces), iproute2 (ip, tc), fio with the nbd engine, python3.
# Environment: JDM_BENCH_SIZE_MIB (256), JDM_BENCH_RUNTIME seconds per fio run (5), JDM_BENCH_REPEAT (3, best
# of), JDM_BENCH_NBD_TIMEOUT (1) and JDM_BENCH_CHECK_INTERVAL (1) seconds, JDM_BENCH_LINK_MBIT (400).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "multipath.sh: needs root (network namespaces)" >&2; exit 1; }
for tool in ip tc fio python3; do
  command -v "$tool" >/dev/null || { echo "multipath.sh: $tool is missing (Debian: iproute2 fio python3)" >&2; exit 1; }
done
fio --enghelp 2>/dev/null | grep -qw nbd || { echo "multipath.sh: this fio has no nbd ioengine" >&2; exit 1; }
# The jar ./jdm runs; package only, so the shared ~/.m2 is left alone.
./mvnw -o -q -B package -pl jdm-cli -am -DskipTests

SIZE_MIB=${JDM_BENCH_SIZE_MIB:-256}
RUNTIME=${JDM_BENCH_RUNTIME:-5}
REPEAT=${JDM_BENCH_REPEAT:-3}
NBD_TIMEOUT=${JDM_BENCH_NBD_TIMEOUT:-1}
CHECK_INTERVAL=${JDM_BENCH_CHECK_INTERVAL:-1}
LINK_MBIT=${JDM_BENCH_LINK_MBIT:-400}
PORT=10809
SECTORS=$((SIZE_MIB * 2048))
JDM=$PWD/jdm

# The first 10.232.B.0/24 no address or route here touches, from a start that differs between concurrent runs.
used=$(ip -4 -o addr show; ip -4 route show table all)
for i in $(seq 0 255); do
  BLOCK=$(( ($$ + i) % 256 ))
  grep -q "10\.232\.$BLOCK\." <<<"$used" || break
done

NAMESPACES=()
declare -A PID
cleanup() {
  for pid in "${PID[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for i in "${!NAMESPACES[@]}"; do
    ip link del "jbr$$h$i" 2>/dev/null || true
    ip netns del "${NAMESPACES[$i]}" 2>/dev/null || true
  done
  if [ -n "${WORK:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Host I: namespace jdmb-PID-I, its veth jbnPIDhI at 10.232.B.(4I+2), the root end jbrPIDhI at .(4I+1).
host_address() { echo "10.232.$BLOCK.$((4 * $1 + 2))"; }
make_host() {
  local ns=jdmb-$$-$1 root=jbr$$h$1 peer=jbn$$h$1
  ip netns add "$ns"
  NAMESPACES[$1]=$ns
  ip link add "$root" type veth peer name "$peer" netns "$ns"
  ip addr add "10.232.$BLOCK.$((4 * $1 + 1))/30" dev "$root"
  ip link set "$root" up
  ip -n "$ns" addr add "$(host_address "$1")/30" dev "$peer"
  ip -n "$ns" link set "$peer" up
  ip -n "$ns" link set lo up
}

# jdm CLI against the daemon whose data folder is $1.
jdm_at() { local data=$1; shift; JDM_SOCKET=$data/jdm.sock "$JDM" "$@"; }

wait_for_daemon() {
  for _ in $(seq 600); do jdm_at "$1" version >/dev/null 2>&1 && return; sleep 0.1; done
  echo "multipath.sh: the daemon on $1 did not start: $(cat "$1.log")" >&2; exit 1
}

# Path server I: jdm daemon in host I's namespace; the table (linear over the shared file) is made on the first start.
start_path() {
  local data=$WORK/path$1
  ip netns exec "${NAMESPACES[$1]}" env JDM_SOCKET="$data/jdm.sock" "$JDM" daemon --data-dir "$data" \
    --nbd-host "$(host_address "$1")" --nbd-port $PORT >/dev/null 2>>"$data.log" &
  PID[path$1]=$!
  wait_for_daemon "$data"
  jdm_at "$data" info disk >/dev/null 2>&1 || jdm_at "$data" create disk --table "0 $SECTORS linear $SHARED 0"
}

path_uri() { echo "nbd://$(host_address "$1"):$PORT/disk"; }
client_uri() { echo "nbd+unix:///$1?socket=$WORK/client/nbd.sock"; }
mp_status() { jdm_at "$WORK/client" status "$1"; }

# Waits until every path of the device is active (A) again.
wait_all_active() {
  for _ in $(seq 600); do
    mp_status "$1" | python3 -c "import sys; w=sys.stdin.read().split(); sys.exit(0 if 'F' not in w else 1)" && return
    sleep 0.1
  done
  echo "multipath.sh: a path of $1 did not come back: $(mp_status "$1")" >&2; exit 1
}

fio_json() {
  fio --name=bench --ioengine=nbd --uri="$(client_uri "$1")" --size="${SIZE_MIB}M" --randrepeat=0 \
      --output-format=json "${@:2}" 2>/dev/null
}
# $1 device, $2 rw, $3 bs, $4 iodepth, $5 what: iops or MiB/s.
fio_rate() {
  fio_json "$1" --rw="$2" --bs="$3" --iodepth="$4" --runtime="$RUNTIME" --time_based |
    python3 -c "import json,sys; s=sys.stdin.read(); r=json.loads(s[s.index('{'):])['jobs'][0]['read']
print(round(r['iops']) if '$5' == 'iops' else round(r['bw_bytes'] / 1048576))"
}
best_of() {
  local best=0 v
  for _ in $(seq "$REPEAT"); do v=$("$@"); [ "$v" -gt "$best" ] && best=$v; done
  echo "$best"
}
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
# How many of the machine's cores were busy (not idle, not waiting for I/O) while "$@" ran.
busy_cores() {
  local before after
  before=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8, $5+$6}' /proc/stat)
  "$@" >/dev/null
  after=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8, $5+$6}' /proc/stat)
  python3 -c "
b, a = '$before'.split(), '$after'.split()
total, idle = int(a[0]) - int(b[0]), int(a[1]) - int(b[1])
print(f'{(total - idle) / total * $(nproc):.2f}')"
}

throughput_rows() {
  local label=$1 two one
  two=$(best_of fio_rate mp2 randread 4k 32 iops); one=$(best_of fio_rate mp1 randread 4k 32 iops)
  printf '| %-44s | %9s | %9s | %6s |\n' "$label: 4k rand read IOPS QD32" "$two" "$one" "$(ratio "$two" "$one")"
  two=$(best_of fio_rate mp2 read 1M 8 mib); one=$(best_of fio_rate mp1 read 1M 8 mib)
  printf '| %-44s | %9s | %9s | %6s |\n' "$label: 1M seq read MiB/s QD8" "$two" "$one" "$(ratio "$two" "$one")"
}

# Failover under 4k random reads at QD1 on mp2: $1 is the fault (kill or cut), applied to path 1 after 2 s.
failover() {
  local log=$WORK/lat-$1 what="path server killed (kill -9)"
  [ "$1" = cut ] && what="path server link cut (ip link set down)"
  fio_json mp2 --rw=randread --bs=4k --iodepth=1 --runtime=$((NBD_TIMEOUT + 5)) --time_based \
    --write_lat_log="$log" --log_avg_msec=0 >/dev/null &
  local fio_pid=$!
  sleep 2
  case $1 in
    kill) kill -9 "${PID[path1]}"; wait "${PID[path1]}" 2>/dev/null || true ;;
    cut) ip -n "${NAMESPACES[1]}" link set "jbn$$h1" down ;;
  esac
  wait "$fio_pid"
  case $1 in
    kill) start_path 1 ;;
    cut) ip -n "${NAMESPACES[1]}" link set "jbn$$h1" up ;;
  esac
  wait_all_active mp2
  # fio's clat log: time (ms), latency (ns), direction, block size, offset; one line per I/O.
  python3 -c "
import statistics
lat = [int(l.split(',')[1]) / 1e6 for l in open('${log}_clat.1.log')]
print(f'| {\"failover, $what\":<44} | {max(lat):7.0f} ms | {statistics.median(lat):6.2f} ms | {len(lat):6} |')"
}

# The client daemon's CPU seconds (user + system) per 4k random read at QD16, in microseconds.
cpu_per_io() {
  local before after ios
  before=$(awk '{print $14 + $15}' "/proc/${PID[client]}/stat")
  ios=$(fio_json "$1" --rw=randread --bs=4k --iodepth=16 --runtime="$RUNTIME" --time_based |
    python3 -c "import json,sys; s=sys.stdin.read(); print(json.loads(s[s.index('{'):])['jobs'][0]['read']['total_ios'])")
  after=$(awk '{print $14 + $15}' "/proc/${PID[client]}/stat")
  python3 -c "print(round(($after - $before) / $(getconf CLK_TCK) * 1e6 / $ios, 2))"
}

run_on() {
  WORK=$(mktemp -d "$1/jdm-mp-bench.XXXXXX")
  SHARED=$WORK/shared.img
  head -c "$((SIZE_MIB << 20))" /dev/urandom >"$SHARED"
  for i in 0 1; do make_host "$i"; start_path "$i"; done
  mkdir -p "$WORK/client"
  JDM_SOCKET=$WORK/client/jdm.sock "$JDM" daemon --data-dir "$WORK/client" --no-nbd-tcp --nbd-timeout "$NBD_TIMEOUT" \
    --path-check-interval "$CHECK_INTERVAL" --path-check-timeout "$CHECK_INTERVAL" >/dev/null 2>>"$WORK/client.log" &
  PID[client]=$!
  wait_for_daemon "$WORK/client"
  jdm_at "$WORK/client" create mp2 --table \
    "0 $SECTORS multipath 1 queue_if_no_path 0 1 1 round-robin 0 2 1 $(path_uri 0) 1 $(path_uri 1) 1"
  jdm_at "$WORK/client" create mp1 --table "0 $SECTORS multipath 1 queue_if_no_path 0 1 1 round-robin 0 1 1 $(path_uri 0) 1"
  jdm_at "$WORK/client" create lin --table "0 $SECTORS linear $(path_uri 0) 0"
  # Warm-up (page cache, the JIT): not measured.
  for dev in mp2 mp1 lin; do RUNTIME=2 fio_rate "$dev" randread 4k 32 iops >/dev/null; done

  echo
  echo "shared file on $(findmnt -no FSTYPE --target "$1" | head -1) ($1), ${SIZE_MIB} MiB; best of $REPEAT runs of ${RUNTIME} s"
  printf '| %-44s | %9s | %9s | %6s |\n' "throughput" "2 paths" "1 path" "ratio"
  printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "-----------" "-----------" "--------"
  throughput_rows "healthy"
  # Healthy paths share this machine's cores with each other, the client and fio: the bound on what a
  # second path can add is the CPU left over, shown here for the 4k case.
  printf '| %-44s | %9s | %9s | %6s |\n' "healthy: cores busy (of $(nproc)) in 4k reads" \
    "$(busy_cores fio_rate mp2 randread 4k 32 iops)" "$(busy_cores fio_rate mp1 randread 4k 32 iops)" ""
  for i in 0 1; do
    tc qdisc add dev "jbr$$h$i" root tbf rate "${LINK_MBIT}mbit" burst 256kb latency 50ms
    ip netns exec "${NAMESPACES[$i]}" tc qdisc add dev "jbn$$h$i" root tbf rate "${LINK_MBIT}mbit" burst 256kb latency 50ms
  done
  throughput_rows "links at $LINK_MBIT Mbit/s"
  for i in 0 1; do
    tc qdisc del dev "jbr$$h$i" root
    ip netns exec "${NAMESPACES[$i]}" tc qdisc del dev "jbn$$h$i" root
  done

  echo
  printf '| %-44s | %10s | %9s | %6s |\n' "failover (--nbd-timeout $NBD_TIMEOUT s, checker ${CHECK_INTERVAL} s)" "longest I/O" "median" "I/Os"
  printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "------------" "-----------" "--------"
  failover kill
  failover cut

  echo
  # Turn about, the least of each: other load and the JIT only ever add CPU.
  local mp=1e9 lin=1e9
  for _ in $(seq "$REPEAT"); do
    mp=$(python3 -c "print(min($mp, $(cpu_per_io mp1)))"); lin=$(python3 -c "print(min($lin, $(cpu_per_io lin)))")
  done
  printf '| %-44s | %9s | %9s | %6s |\n' "client CPU per 4k read (us), QD16" "multipath" "linear" "ratio"
  printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "-----------" "-----------" "--------"
  printf '| %-44s | %9s | %9s | %6s |\n' "one path, same export" "$mp" "$lin" "$(ratio "$mp" "$lin")"

  cleanup
  PID=()
  NAMESPACES=()
  WORK=
}

for d in ${JDM_BENCH_DIRS:-/dev/shm /var/tmp}; do run_on "$d"; done
