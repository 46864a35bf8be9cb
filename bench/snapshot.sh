#!/usr/bin/env bash
# Builds jdm-bench and runs the snapshot benchmark (SnapshotMain) twice: with its files on ext4 (a folder
# on the work disk, JDM_SNAPSHOT_DISK, default /var/tmp) and on tmpfs (/dev/shm). Each run compares
# snapshot-origin/snapshot/snapshot-merge with linear over the same origin file, round by round:
# origin writes into uncopied chunks with 1 and 4 snapshots, overwrites of copied chunks, snapshot reads,
# a merge against a plain copy of the same bytes; then the heap held per exception (1 Mi exceptions).
# Arguments go to SnapshotMain: [rounds] [cases], e.g. `bench/snapshot.sh 5 write,merge`;
# JDM_SNAPSHOT_THREADS (default 4) I/O threads.
# The build is `package` (not `install`): nothing in ~/.m2 changes. About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -o -q -B package -DskipTests -pl jdm-bench -am
. .mvn/find-jdk.sh
disk=${JDM_SNAPSHOT_DISK:-/var/tmp}
for where in "$disk" /dev/shm; do
  echo "## $(df --output=fstype "$where" | tail -1 | tr -d ' '): $where"
  uptime
  JDM_BENCH_DIR="$where" "$JAVA_HOME/bin/java" -Xmx3g --enable-native-access=ALL-UNNAMED \
    -cp jdm-bench/target/jdm-bench.jar dev.jdm.bench.SnapshotMain "$@"
  echo
done
