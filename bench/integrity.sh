#!/usr/bin/env bash
# Builds jdm-bench and runs the integrity benchmark: 4 KiB random reads and writes and 1 MiB
# sequential writes through dm-integrity (crc32c, J and D modes) as ratios to linear, the median of
# JDM_BENCH_ROUNDS rounds (default 3), on files in /dev/shm (override with JDM_BENCH_DIR).
# Extra arguments go to JMH. Takes about 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
for module in jdm-core jdm-targets jdm-bench; do
  ./mvnw -q -f "$module/pom.xml" install -DskipTests
done
. .mvn/find-jdk.sh
exec "$JAVA_HOME/bin/java" -cp jdm-bench/target/jdm-bench.jar dev.jdm.bench.IntegrityMain \
  -f 1 -wi 1 -w 1s -i 2 -r 2s -foe true "$@"
