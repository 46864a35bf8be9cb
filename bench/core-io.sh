#!/usr/bin/env bash
# Builds jdm-bench and runs the in-process I/O benchmark: 1 MiB sequential and 4 KiB random reads and
# writes through a linear and a 4-way striped table, against plain FileChannel I/O on the same files,
# and prints throughput and per-CPU-second ratios. The backing files live in /dev/shm (override with
# JDM_BENCH_DIR) so only jdm's overhead is measured. About 5 minutes on 2 cores.
# Arguments replace the default JMH options, e.g. `bench/core-io.sh -f 1 -i 10 -p layout=linear`.
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -q -pl jdm-bench -am install -DskipTests
. .mvn/find-jdk.sh
if [ $# -eq 0 ]; then
  set -- -f 2 -wi 2 -w 1s -i 5 -r 1s -foe true
fi
exec "$JAVA_HOME/bin/java" -jar jdm-bench/target/jdm-bench.jar "$@"
