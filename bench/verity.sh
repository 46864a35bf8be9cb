#!/usr/bin/env bash
# dm-verity benchmarks, one run:
#  1. `jdm verity format` next to `veritysetup format` on the same 1 GiB file (same salt and UUID, so the
#     root hashes must be equal): each timed 3 times, medians and the ratio veritysetup/jdm (>= 1.0 means
#     jdm is at least as fast). jdm runs as `./jdm verity format` when the CLI has it, else VerityFormatMain.
#  2. Reads: 1 MiB sequential and 4 KiB random reads through a verity table (every read verified; with
#     check_at_most_once; with a data cache of half the image) against a linear table on the same file,
#     on two storages: "disk" (files in $JDM_BENCH_DISK_DIR, default /var/tmp, opened with O_DIRECT so
#     neither table reads from the page cache) and "memory" (files in /dev/shm). The tables run in
#     alternating 250 ms slices (VerityInterleavedMain) and each ratio is the median of per-round ratios,
#     so other people's load moves both sides alike. Extra arguments: [rounds] [slice ms].
#     The same reads under JMH (one table after the other):
#     java -cp jdm-bench/target/jdm-bench.jar dev.jdm.bench.VerityReadMain -f 1 -wi 2 -w 2s -i 3 -r 2s
# The format files live in /dev/shm (override with JDM_BENCH_DIR). About 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
for module in jdm-core jdm-targets jdm-formats jdm-bench; do
  ./mvnw -q -f "$module/pom.xml" install -Dmaven.test.skip=true
done
. .mvn/find-jdk.sh
command -v veritysetup >/dev/null || { echo "verity.sh: veritysetup missing (apt-get install cryptsetup-bin)" >&2; exit 2; }

dir=$(mktemp -d "${JDM_BENCH_DIR:-/dev/shm}/jdm-verity-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
head -c 1G /dev/urandom > "$dir/data.img"
salt=5a17e0c4d1b2a39f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817
uuid=0c65975b-102c-4e79-90ad-9b88bd6cef89

if ./jdm verity format --help 2>/dev/null | grep -q -- --hash-offset; then
  jdm_format() { ./jdm verity format "$@"; }
else
  jdm_format() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp jdm-bench/target/jdm-bench.jar dev.jdm.bench.VerityFormatMain "$@"; }
fi

seconds() { # runs a command, prints its wall time in seconds, leaves its output in $dir/out
  local start end
  start=$(date +%s%N)
  "$@" > "$dir/out"
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }'
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

v=(); j=()
for run in 1 2 3; do
  rm -f "$dir/v.hash" "$dir/j.hash"
  v+=("$(seconds veritysetup format --salt $salt --uuid $uuid "$dir/data.img" "$dir/v.hash")")
  vroot=$(sed -n 's/^Root hash:[[:space:]]*//p' "$dir/out")
  j+=("$(seconds jdm_format --salt $salt --uuid $uuid "$dir/data.img" "$dir/j.hash")")
  jroot=$(sed -n 's/^Root hash:[[:space:]]*//p' "$dir/out")
  [ "$vroot" = "$jroot" ] || { echo "root hashes differ: veritysetup $vroot, jdm $jroot" >&2; exit 1; }
  cmp -s "$dir/v.hash" "$dir/j.hash" || { echo "hash images differ" >&2; exit 1; }
done
vm=$(median "${v[@]}"); jm=$(median "${j[@]}")
echo "load average after formatting: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| format 1 GiB (sha256, 4 KiB blocks) | runs (s) | median (s) |"
echo "|---|---|---:|"
echo "| veritysetup format | ${v[*]} | $vm |"
echo "| jdm verity format | ${j[*]} | $jm |"
awk -v a="$vm" -v b="$jm" 'BEGIN { printf "\nratio veritysetup/jdm = %.2f (root hashes and hash images identical)\n", a / b }'
rm -f "$dir/data.img" "$dir/v.hash" "$dir/j.hash"

echo; echo "load average before the reads: $(cut -d' ' -f1-3 /proc/loadavg)"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp jdm-bench/target/jdm-bench.jar \
  dev.jdm.bench.VerityInterleavedMain "$@"
echo "load average after the reads: $(cut -d' ' -f1-3 /proc/loadavg)"
