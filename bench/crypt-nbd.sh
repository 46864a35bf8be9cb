#!/usr/bin/env bash
# crypt over linear through NBD next to plain linear through NBD (issue 5's second goal: >= 0.7).
# Both are jdm's NBD server on its own copy of the same file in /dev/shm; the crypt device is
# aes-xts-plain64 with a 512-bit key and 4096-byte sectors, mapped onto the file directly (the
# standalone server serves one table; a linear layer under crypt would only pass offsets through). Measures sequential read/write (nbdcopy) and 4 KiB random
# read/write IOPS at QD32 (fio's nbd engine) and prints crypt/linear ratios.
# Environment as nbd.sh: JDM_BENCH_SIZE_MIB (512), JDM_BENCH_RUNTIME (5 s), JDM_BENCH_REPEAT (3).
set -euo pipefail
. "$(dirname "$0")/nbd-lib.sh"
SERVERS="linear crypt"
KEY=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')

start_server() {
  local disk=$WORK/$1.img sectors=$((SIZE_MIB * 2048))
  cp "$SOURCE" "$disk"
  case $1 in
    linear) start_jdm linear "0 $sectors linear $disk 0" ;;
    crypt) start_jdm crypt "0 $sectors crypt aes-xts-plain64 $KEY 0 $disk 0 1 sector_size:4096" ;;
  esac
  wait_for_socket "$1"
}

run_benchmark crypt linear
