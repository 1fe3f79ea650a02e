#!/usr/bin/env bash
# Builds the GPU kit: everything a GPU machine without Java and without a network needs to run the
# GPU check (ai.djl.ttt.examples.GpuCheck) and the speed benchmark (`ttt bench speed`), in one
# folder that fits the device tool's 64 MiB carry limit. See docs/gpu.md ("The GPU kit").
#
#   tools/gpu-kit.sh                          # -> target/gpu-kit/ (ignored by git)
#   DJL_SRC=~/djl tools/gpu-kit.sh            # with DJL's JNI sources: the kit can run on a GPU
#   tools/gpu-kit.sh --out DIR
#   target/gpu-kit/run.sh --device cpu        # the kit's entry script, on this machine's CPU
#
# The kit holds:
#   jre/          a jlink'd Java runtime (only the modules the jars use; jni.h and jni_md.h in
#                 jre/include, for compiling DJL's JNI bridge on the GPU machine)
#   lib/          the examples jar and its runtime classpath, less libtorch (pytorch-native-cpu,
#                 110 MB, useless on a GPU) and pytorch-jni (its prebuilt bridges fit libtorch 2.7.1
#                 only), each jar without the native libraries of other platforms than linux-x86_64
#   djl-src/      DJL's JNI sources at the DJL version in use, with the JNI header made from
#                 PyTorchLibrary.java (only when DJL_SRC is given, see below)
#   cases/        the parity cases (the official code's tensors)
#   run.sh        the entry script (tools/gpu-kit-run.sh), gpu-python-torch.sh, kit.env
#   cpu-classpath.txt  this machine's CPU libtorch jars in ~/.m2, for `run.sh --device cpu` here
#
# What the GPU machine must have (run.sh checks each on arrival and says what is missing): Linux
# x86_64 with glibc at least the JRE's (kit.env: GLIBC_REQUIRED), an NVIDIA driver (nvidia-smi),
# python3 with torch built with CUDA (torch.cuda.is_available()), its C++ headers (pip wheels have
# them), a C++ compiler (g++), and preferably cmake and the CUDA toolkit (else the bridge is compiled
# without CMake). No Java, no network.
#
# DJL_SRC: DJL's C++ JNI sources are not on Maven Central (the sources jars there hold Java only),
#   so the builder takes them from a checkout of github.com/deepjavalibrary/djl at the tag of the DJL
#   version in use (git clone -b v0.36.0 --depth 1 ...), or from any git repository of DJL that has
#   that tag (read with git archive). Without DJL_SRC the kit is built without them: `run.sh --device
#   cpu` works (it uses the CPU libtorch of ~/.m2), a GPU run stops at once and says so.
# Options: --out DIR (default target/gpu-kit; replaced whole, atomically), --no-build (use the jars
#   of the last `mvn package`). Env: MVN_ONLINE=1 lets Maven reach the network (default: offline,
#   -o, and online only when offline fails), JAVA_HOME (a JDK 17+ with jlink; default: javac's).
set -euo pipefail
log() { echo "gpu-kit: $*" >&2; }
die() {
  log "error: $*"
  exit 2
}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/target/gpu-kit"
build=1
while [ "$#" -gt 0 ]; do
  case "$1" in
    --out)
      [ "$#" -ge 2 ] || die "--out needs a folder"
      out="$2"
      shift 2
      ;;
    --no-build)
      build=0
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1'; expected --out DIR, --no-build" ;;
  esac
done
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
limit=$((64 * 1024 * 1024))
start=$SECONDS

# ---- the JDK (jlink, jdeps, javac)
if [ -z "${JAVA_HOME:-}" ]; then
  command -v javac >/dev/null || die "no javac on PATH and no JAVA_HOME: a JDK 17+ is needed (jlink)"
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
fi
for tool in jlink jdeps javac jar java; do
  [ -x "$JAVA_HOME/bin/$tool" ] || die "JAVA_HOME=$JAVA_HOME has no bin/$tool (a JDK 17+ is needed)"
done
[ -f "$JAVA_HOME/include/jni.h" ] || die "JAVA_HOME=$JAVA_HOME has no include/jni.h"

# ---- the jars: mvn package, and the runtime classpath as Maven resolves it (not target/lib, which
# may hold jars of an earlier version or profile)
cd "$root"
classpath_file="$root/ttt-djl-examples/target/gpu-kit-classpath.txt"
if [ "$build" = 1 ]; then
  mvn_args=(-q -B -ntp -DskipTests -pl ttt-djl-examples -am package dependency:build-classpath
    -Dmdep.outputFile=target/gpu-kit-classpath.txt -DincludeScope=runtime)
  export MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true"
  if [ "${MVN_ONLINE:-0}" = 1 ]; then
    log "mvn package (online) ..."
    mvn "${mvn_args[@]}" >&2
  else
    log "mvn -o package ..."
    mkdir -p "$root/target"
    if ! mvn -o "${mvn_args[@]}" >"$root/target/gpu-kit-mvn.log" 2>&1; then
      tail -20 "$root/target/gpu-kit-mvn.log" >&2
      log "offline build failed (above); again online, for what ~/.m2 lacks"
      mvn "${mvn_args[@]}" >&2
    fi
  fi
fi
[ -f "$classpath_file" ] || die "no $classpath_file: run without --no-build"
examples_jar="$root/ttt-djl-examples/target/ttt-djl-examples.jar"
[ -f "$examples_jar" ] || die "no $examples_jar: run without --no-build"
IFS=: read -r -a deps <"$classpath_file" || true # (no newline at its end)
app=("$examples_jar")
cpu_jars=()
djl_version="" torch_cpu_version=""
for j in "${deps[@]}"; do
  case "$j" in
    */ai/djl/pytorch/pytorch-native-*)
      cpu_jars+=("$j")
      torch_cpu_version="$(basename "$(dirname "$j")")"
      ;;
    */ai/djl/pytorch/pytorch-jni/*) cpu_jars+=("$j") ;;
    *)
      app+=("$j")
      if [[ "$j" == */ai/djl/api/*/api-*.jar ]]; then djl_version="$(basename "$(dirname "$j")")"; fi
      ;;
  esac
done
[ -n "$djl_version" ] || die "ai.djl:api is not on the runtime classpath ($classpath_file)"
log "DJL $djl_version, ${#app[@]} jars (CPU libtorch ${torch_cpu_version:-none} left out)"

tmp="$out.tmp"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT # nothing half-built is left behind
mkdir -p "$tmp/lib"

# ---- the jars, without other platforms' native libraries (DJL's tokenizers jar carries four
# platforms' libraries, 55 MB unpacked; JNA's jar 30)
cat >"$tmp/StripJar.java" <<'EOF'
import java.io.*;
import java.nio.file.*;
import java.util.regex.Pattern;
import java.util.zip.*;

/** Copies a jar without the entries under another platform's native folder than linux-x86_64. */
public class StripJar {
    static final Pattern PLATFORM = Pattern.compile(
            "(linux|win|win32|osx|darwin|macos|aix|freebsd|openbsd|netbsd|dragonflybsd|sunos)(-.*)?");

    static boolean keep(String name) {
        for (String part : name.split("/")) {
            if (PLATFORM.matcher(part).matches()) {
                return part.equals("linux-x86_64") || part.equals("linux-x86-64");
            }
        }
        return true;
    }

    public static void main(String[] args) throws IOException {
        for (int i = 0; i + 1 < args.length; i += 2) {
            try (ZipInputStream in = new ZipInputStream(new FileInputStream(args[i]));
                    ZipOutputStream out = new ZipOutputStream(new FileOutputStream(args[i + 1]))) {
                out.setLevel(9);
                for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                    if (keep(e.getName())) {
                        ZipEntry copy = new ZipEntry(e.getName());
                        copy.setTime(e.getTime());
                        out.putNextEntry(copy);
                        in.transferTo(out);
                        out.closeEntry();
                    }
                }
            }
        }
    }
}
EOF
strip_args=()
for j in "${app[@]}"; do strip_args+=("$j" "$tmp/lib/$(basename "$j")"); done
"$JAVA_HOME/bin/java" "$tmp/StripJar.java" "${strip_args[@]}"
rm "$tmp/StripJar.java"

# ---- the Java runtime: the JDK modules the jars use (jdeps, and the requires of modular jars)
modules="java.base"
for j in "${app[@]}"; do
  found="$("$JAVA_HOME/bin/jdeps" --ignore-missing-deps --multi-release 17 -s "$j" 2>/dev/null \
    | grep -o -- '-> \(java\|jdk\)\.[A-Za-z0-9.]*' | sed 's/^-> //' || true)"
  required="$("$JAVA_HOME/bin/jar" --describe-module --file "$j" --release 17 2>/dev/null \
    | sed -n 's/^requires \(\(java\|jdk\)\.[A-Za-z0-9.]*\).*/\1/p' || true)"
  for m in $found $required; do modules="$modules,$m"; done
done
# Gson and DJL reach sun.misc.Unsafe by reflection, which jdeps does not see
modules="$(tr , '\n' <<<"$modules,jdk.unsupported" | sort -u | paste -sd,)"
log "jlink: $modules"
"$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --compress=2 --output "$tmp/jre"
# the JVM's symbol table (not needed to run; 3.5 MB of libjvm.so's 23)
if command -v strip >/dev/null; then strip --strip-unneeded "$tmp/jre/lib/server/libjvm.so"; fi
# DJL's JNI bridge is compiled on the GPU machine and needs jni.h: gpu-python-torch.sh looks in
# $JAVA_HOME/include
mkdir -p "$tmp/jre/include/linux"
cp "$JAVA_HOME/include/jni.h" "$tmp/jre/include/"
cp "$JAVA_HOME/include/linux/jni_md.h" "$tmp/jre/include/linux/"
"$tmp/jre/bin/java" -version >/dev/null 2>&1 || die "the jlink'd runtime does not start"
# the newest glibc symbol version the runtime needs: run.sh compares it with the machine's
glibc="$(objdump -T "$tmp/jre/bin/java" "$tmp"/jre/lib/*.so "$tmp/jre/lib/server/libjvm.so" 2>/dev/null \
  | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -u | tail -1 || true)"

# ---- DJL's JNI sources, at the DJL version in use
djl_src_note="none (built without DJL_SRC)"
if [ -n "${DJL_SRC:-}" ]; then
  want=(engines/pytorch/pytorch-native/CMakeLists.txt engines/pytorch/pytorch-native/src/main/native
    api/src/main/native engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java)
  src="$tmp/djl-src"
  mkdir -p "$src"
  if [ -f "$DJL_SRC/engines/pytorch/pytorch-native/CMakeLists.txt" ]; then
    for w in "${want[@]}"; do
      mkdir -p "$src/$(dirname "$w")"
      cp -r "$DJL_SRC/$w" "$src/$w"
    done
    djl_src_note="the checkout $DJL_SRC"
  elif git --git-dir="$DJL_SRC" rev-parse -q --verify "refs/tags/v$djl_version" >/dev/null 2>&1 \
    || git -C "$DJL_SRC" rev-parse -q --verify "refs/tags/v$djl_version" >/dev/null 2>&1; then
    gitdir="$DJL_SRC"
    git --git-dir="$gitdir" rev-parse -q --verify "refs/tags/v$djl_version" >/dev/null 2>&1 \
      || gitdir="$(git -C "$DJL_SRC" rev-parse --absolute-git-dir)"
    git --git-dir="$gitdir" archive "v$djl_version" "${want[@]}" | tar -x -C "$src"
    djl_src_note="tag v$djl_version of the git repository $DJL_SRC"
  else
    die "DJL_SRC=$DJL_SRC is neither a DJL checkout (engines/pytorch/pytorch-native/CMakeLists.txt)" \
      "nor a git repository with the tag v$djl_version"
  fi
  # the sources must be those of the DJL version in use: PyTorchLibrary.java (its native methods
  # are the bridge's interface) must equal the one in pytorch-engine's sources jar, where ~/.m2 has it
  lib_java=engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java
  sources_jar="${M2_REPO:-$HOME/.m2/repository}/ai/djl/pytorch/pytorch-engine/$djl_version/pytorch-engine-$djl_version-sources.jar"
  if [ -f "$sources_jar" ] && ! command -v unzip >/dev/null; then
    log "warning: no unzip to check DJL_SRC's version against $sources_jar"
  elif [ -f "$sources_jar" ]; then
    if ! unzip -p "$sources_jar" ai/djl/pytorch/jni/PyTorchLibrary.java | cmp -s - "$src/$lib_java"; then
      die "DJL_SRC's PyTorchLibrary.java differs from pytorch-engine $djl_version's ($sources_jar):" \
        "DJL_SRC is not DJL $djl_version (git checkout v$djl_version)"
    fi
    djl_src_note="$djl_src_note (PyTorchLibrary.java = pytorch-engine-$djl_version-sources.jar's)"
  else
    log "warning: no pytorch-engine-$djl_version-sources.jar in ~/.m2 to check DJL_SRC's version against"
    log "  (mvn dependency:get -Dartifact=ai.djl.pytorch:pytorch-engine:$djl_version:jar:sources)"
  fi
  # the header of the native methods: the GPU machine has no javac
  "$JAVA_HOME/bin/javac" -h "$src/engines/pytorch/pytorch-native/build/include" -d "$tmp/classes" \
    "$src/$lib_java"
  rm -rf "$tmp/classes"
  log "DJL's JNI sources from $djl_src_note"
else
  log "warning: DJL_SRC not set: the kit carries no DJL JNI sources and runs on the CPU only;"
  log "  for a GPU: DJL_SRC=<DJL checkout at v$djl_version, or a DJL git repository> $0"
fi

# ---- the parity cases, the scripts, the settings
cp -r "$root/ttt-djl-blocks/src/test/resources/ttt-reference" "$tmp/cases"
cp "$root/tools/gpu-kit-run.sh" "$tmp/run.sh"
cp "$root/tools/gpu-python-torch.sh" "$tmp/gpu-python-torch.sh"
chmod +x "$tmp/run.sh" "$tmp/gpu-python-torch.sh"
printf '%s\n' "${cpu_jars[@]}" >"$tmp/cpu-classpath.txt"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit+changes"
fi
cat >"$tmp/kit.env" <<EOF
# written by tools/gpu-kit.sh; read by run.sh
DJL_VERSION=$djl_version
TORCH_CPU_VERSION=${torch_cpu_version:-}
GLIBC_REQUIRED=${glibc:-}
JAVA_VERSION=$("$tmp/jre/bin/java" -version 2>&1 | head -1 | sed 's/.*"\(.*\)".*/\1/')
JAVA_MODULES=$modules
DJL_SRC_FROM="$djl_src_note"
HAS_DJL_SRC=$([ -d "$tmp/djl-src" ] && echo 1 || echo 0)
BUILT_FROM=$commit
EOF

size="$(du -sb "$tmp" | cut -f1)"
if [ "$size" -gt "$limit" ]; then
  du -sb "$tmp"/* >&2
  die "the kit is $((size / 1024 / 1024)) MiB, over $((limit / 1024 / 1024)) MiB (the device tool's carry limit)"
fi
echo "SIZE_BYTES=$size" >>"$tmp/kit.env"
rm -rf "$out"
mv "$tmp" "$out"
log "built $out: $(awk -v s="$size" 'BEGIN { printf "%.1f MiB", s / 1048576 }') ($(du -sb "$out"/jre | cut -f1 \
  | awk '{ printf "jre %.1f", $1 / 1048576 }'), $(du -sb "$out"/lib | cut -f1 \
  | awk '{ printf "lib %.1f", $1 / 1048576 }') MiB), in $((SECONDS - start)) s"
