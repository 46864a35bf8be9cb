#!/usr/bin/env bash
# Builds jdm-bench and runs the fault-target benchmarks: 4 KiB random reads and writes through flakey
# (up phase) and dust (enabled, no bad blocks) as ratios to linear, and the delay target's observed
# median and p99 for asked delays of 1, 10 and 100 ms. Backing files live in /dev/shm (override with
# JDM_BENCH_DIR). Extra arguments go to JMH. Takes about 2 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
for module in jdm-core jdm-targets jdm-bench; do
  ./mvnw -q -f "$module/pom.xml" install -DskipTests
done
. .mvn/find-jdk.sh
exec "$JAVA_HOME/bin/java" -cp jdm-bench/target/jdm-bench.jar dev.jdm.bench.FaultTargetsMain \
  -f 1 -wi 2 -w 1s -i 3 -r 2s -foe true "$@"
