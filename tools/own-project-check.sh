#!/usr/bin/env bash
# Builds and runs docs/own-project.md's pom and program exactly as the page writes them, in a fresh
# folder, offline (mvn -o package, then java -jar) against the ttt-djl artifacts in the local Maven repository, and checks
# that the program prints the page's expected output. Needs `mvn install -DskipTests` first (.ci/run
# does it). Extra arguments go to Maven, e.g. -Dmaven.repo.local=/path/to/repository.
#   tools/own-project-check.sh [maven arguments...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
page="$root/docs/own-project.md"

# the fenced block between <!-- own-project:NAME:begin --> and <!-- own-project:NAME:end -->
block() {
  awk -v name="$1" '
    $0 == "<!-- own-project:" name ":begin -->" { inside = 1; next }
    $0 == "<!-- own-project:" name ":end -->" { inside = 0; found = 1; next }
    inside && /^```/ { next }
    inside { print }
    END { if (!found) exit 1 }
  ' "$page" || { echo "own-project-check: no '$1' block in $page" >&2; exit 1; }
}

work="$(mktemp -d "${TMPDIR:-/tmp}/own-project.XXXXXX")"
trap 'rm -rf "$work"' EXIT
block pom > "$work/pom.xml"
program="$(block program)"
package="$(printf '%s\n' "$program" | sed -n 's/^package \([a-zA-Z0-9_.]*\);$/\1/p')"
class="$(printf '%s\n' "$program" | sed -n 's/^public final class \([A-Za-z0-9_]*\).*/\1/p')"
if [ -z "$package" ] || [ -z "$class" ]; then
  echo "own-project-check: the program block has no 'package' or 'public final class' line" >&2
  exit 1
fi
mkdir -p "$work/src/main/java/${package//.//}"
printf '%s\n' "$program" > "$work/src/main/java/${package//.//}/$class.java"
expected="$(block output)"

export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
echo "own-project-check: building the page's project in $work (mvn -o package)" >&2
if ! (cd "$work" && MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true" \
    mvn -o -q -B -ntp "$@" package > "$work/log" 2>&1); then
  cat "$work/log" >&2
  echo "own-project-check: FAIL: the page's project does not build" >&2
  exit 1
fi
jar="$(sed -n 's|^  <artifactId>\(.*\)</artifactId>$|\1|p' "$work/pom.xml")"
jar="$work/target/$jar-$(sed -n 's|^  <version>\(.*\)</version>$|\1|p' "$work/pom.xml").jar"
# the program's standard output only: DJL's log goes to standard error
if ! actual="$(cd "$work" && java -jar "$jar" 2> "$work/log")"; then
  cat "$work/log" >&2
  echo "own-project-check: FAIL: the page's program does not run" >&2
  exit 1
fi
if [ "$actual" != "$expected" ]; then
  cat "$work/log" >&2
  printf 'expected:\n%s\ngot:\n%s\n' "$expected" "$actual" >&2
  echo "own-project-check: FAIL: the program's output is not the page's" >&2
  exit 1
fi
echo "own-project-check: PASS: $expected" >&2
