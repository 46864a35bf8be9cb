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
for tool in nbdkit qemu-nbd; do
  command -v "$tool" >/dev/null || { echo "nbd.sh: $tool is missing (Debian: nbdkit qemu-utils)" >&2; exit 1; }
done
. "$(dirname "$0")/nbd-lib.sh"
SERVERS="jdm nbdkit qemu-nbd"

# Every server gets its own copy of the file, written just before it starts.
start_server() {
  local disk=$WORK/$1.img sock=$WORK/$1.sock
  cp "$SOURCE" "$disk"
  case $1 in
    jdm) start_jdm jdm "0 $((SIZE_MIB * 2048)) linear $disk 0" ;;
    nbdkit) nbdkit -f -U "$sock" file "$disk" 2>"$WORK/$1.log" & PID[$1]=$! ;;
    qemu-nbd) qemu-nbd -f raw -x disk --persistent --shared=16 -k "$sock" "$disk" 2>"$WORK/$1.log" & PID[$1]=$! ;;
  esac
  wait_for_socket "$1"
}

run_benchmark jdm nbdkit
