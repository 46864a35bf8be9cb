#!/usr/bin/env bash
# Builds jdm-bench and runs ThinMetadataBenchmark: the thin metadata operations a pool's I/O path calls
# (lookup, allocate + insert, 1,000 inserts + commit, lookups while another thread inserts) on a device of
# 1M mappings in a 1 TiB pool, metadata in /dev/shm (override with JDM_BENCH_DIR), with a block cache
# smaller than the tree (4096 blocks) and one that holds it (16384). Extra arguments replace the JMH
# options. Takes about 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -q -pl jdm-bench -am install -DskipTests
. .mvn/find-jdk.sh
uptime
if [ $# -eq 0 ]; then
  set -- -p cacheBlocks=4096,16384 -wi 1 -w 2s -i 3 -r 2s -foe true
fi
"$JAVA_HOME/bin/java" -cp jdm-bench/target/jdm-bench.jar org.openjdk.jmh.Main ThinMetadataBenchmark "$@"
uptime
