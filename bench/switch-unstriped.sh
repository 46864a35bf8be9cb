#!/usr/bin/env bash
# switch and unstriped against linear, in-process (JMH): 4 KiB random reads and writes over one file in /dev/shm
# (JDM_BENCH_DIR=/var/tmp for the work disk's ext4). Extra arguments go to JMH.
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -o -q -B package -pl jdm-bench -am -DskipTests
. .mvn/find-jdk.sh
exec "$JAVA_HOME/bin/java" -cp jdm-bench/target/jdm-bench.jar dev.jdm.bench.SwitchUnstripedMain \
  -f 1 -wi 2 -w 1s -i 3 -r 2s -foe true "$@"
