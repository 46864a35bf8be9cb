#!/usr/bin/env bash
# Builds jdm-bench and runs the in-process I/O benchmark: 1 MiB sequential and 4 KiB random reads and
# writes through a linear and a 4-way striped table, against plain FileChannel I/O on the same files.
# The backing files live in /dev/shm (override with JDM_BENCH_DIR) so only jdm's overhead is measured.
# Extra arguments go to JMH (e.g. -wi 5 -i 10 for a longer run). Takes about 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each module on its own: the reactor would also need every other module of the tree to build.
for module in jdm-core jdm-targets jdm-bench; do
  ./mvnw -q -f "$module/pom.xml" install -DskipTests
done
. .mvn/find-jdk.sh
exec "$JAVA_HOME/bin/java" -jar jdm-bench/target/jdm-bench.jar \
  -f 1 -wi 2 -w 2s -i 3 -r 2s -foe true "$@"
