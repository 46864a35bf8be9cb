# Sourced by ./mvnw and ./jdm: make sure JAVA_HOME points at a JDK 25 or newer.
# The machines ship an older default java next to a Temurin 25 under /usr/lib/jvm.
jdm_java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'; }
if [ -z "${JAVA_HOME:-}" ] || [ "$(jdm_java_major "$JAVA_HOME")" -lt 25 ] 2>/dev/null; then
  case $- in *f*) set +f; jdm_glob_off=1;; esac
  for candidate in /usr/lib/jvm/*; do
    [ -x "$candidate/bin/javac" ] || continue
    major=$(jdm_java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then export JAVA_HOME="$candidate"; break; fi
  done
  [ -n "${jdm_glob_off:-}" ] && set -f
fi
if [ -z "${JAVA_HOME:-}" ] || [ "$(jdm_java_major "$JAVA_HOME")" -lt 25 ] 2>/dev/null; then
  echo "jdm: no JDK 25 or newer found (set JAVA_HOME, or install one under /usr/lib/jvm)" >&2
fi
