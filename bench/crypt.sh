#!/usr/bin/env bash
# Measures aes-xts-plain64 with 4 KiB sectors through the crypt target, in process (CryptBenchmark:
# 4 KiB writes = encryption, 4 KiB reads = decryption, on one and two threads) and, right after each
# JMH run, `openssl speed -elapsed -evp aes-256-xts -bytes 4096` for the same operation and thread
# count (-decrypt, -multi 2), then prints jdm's throughput as a ratio of OpenSSL's.
# Both sides are timed by the wall clock (-elapsed: by default openssl divides by its CPU time), so
# load from other processes weighs on both; run it on a quiet machine for absolute numbers.
# Extra arguments go to JMH, $JAVA_OPTS to the JMH host JVM. Takes about 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
for module in jdm-core jdm-targets jdm-bench; do
  ./mvnw -q -f "$module/pom.xml" install -DskipTests
done
. .mvn/find-jdk.sh
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT

# openssl prints thousands of bytes per second on its last line: "AES-256-XTS  6108266.17k".
openssl_bytes_per_second() {
  openssl speed -elapsed -seconds 5 "$@" -evp aes-256-xts -bytes 4096 2>/dev/null \
    | awk 'END { v = $NF; sub(/k$/, "", v); printf "%.0f", v * 1000 }'
}

rows=()
for op in encrypt decrypt; do
  for threads in 1 2; do
    "$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -cp jdm-bench/target/jdm-bench.jar org.openjdk.jmh.Main "CryptBenchmark\.$op$threads\$" \
      -f 1 -wi 3 -w 2s -i 5 -r 2s -foe true -jvmArgsAppend --enable-native-access=ALL-UNNAMED \
      -rf csv -rff "$csv" "$@" >&2
    # CSV: "Benchmark","Mode","Threads","Samples","Score",...; Score is operations of 4 KiB per second.
    jdm=$(awk -F, 'NR == 2 { printf "%.0f", $5 * 4096 }' "$csv")
    flags=()
    [ "$op" = decrypt ] && flags+=(-decrypt)
    [ "$threads" -gt 1 ] && flags+=(-multi "$threads")
    ossl=$(openssl_bytes_per_second "${flags[@]}")
    rows+=("$(awk -v op="$op" -v t="$threads" -v j="$jdm" -v o="$ossl" \
      'BEGIN { printf "| %s | %d | %.0f | %.0f | %.2f |", op, t, j / 1e6, o / 1e6, j / o }')")
  done
done

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| operation | threads | jdm MB/s | openssl MB/s | jdm / openssl |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
