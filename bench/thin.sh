#!/usr/bin/env bash
# Builds jdm-bench and runs the thin benchmark (ThinBenchmark via ThinMain): first writes into
# unprovisioned blocks, overwrites and reads of provisioned ones, each as a ratio of linear on the same
# kind of file in the same run; create_snap time for origins of 16 Ki and 1 Mi mappings; the heap the
# pool holds after reading every mapping. Files live in /dev/shm (override with JDM_BENCH_DIR); the data
# files are sparse. Needs thin_restore (thin-provisioning-tools). JDM_BENCH_HEAP=false skips the heap part.
# Extra arguments go to JMH. Three forks per trial: single forks of one trial differed by up to a quarter
# (JIT and memory layout). Takes about 6 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
for module in jdm-core jdm-pdata jdm-targets jdm-bench; do
  ./mvnw -q -f "$module/pom.xml" install -DskipTests
done
. .mvn/find-jdk.sh
uptime
exec "$JAVA_HOME/bin/java" -Xmx1g -cp jdm-bench/target/jdm-bench.jar dev.jdm.bench.ThinMain \
  -f 3 -wi 2 -w 1s -i 5 -r 1s -foe true "$@"
