#!/usr/bin/env bash
# The GPU kit's entry script (tools/gpu-kit.sh copies it into the kit as run.sh): checks the
# machine, gets a libtorch DJL can load without a network, and runs the GPU check
# (ai.djl.ttt.examples.GpuCheck) and the speed benchmark (`ttt bench speed`) on the device, writing
# their reports to the output folder. See docs/gpu.md ("The GPU kit").
#
#   run.sh                          # on gpu, reports to $OUT (or ./gpu-kit-report)
#   run.sh --device cpu             # on this machine's CPU, with the CPU libtorch jars of ~/.m2
#   run.sh --out DIR --bench quick
#
# Options:
#   --device gpu|gpu:N|cpu   the device (default gpu)
#   --out DIR                the reports' folder (default $OUT, else ./gpu-kit-report)
#   --libtorch python|maven  python: python's torch (TORCH_PYTHON, default python3; or TORCH_DIR),
#                            with DJL's JNI bridge compiled against it from the kit's DJL sources
#                            (tools/gpu-python-torch.sh); maven: the CPU libtorch jars that the kit
#                            builder found in ~/.m2 (cpu-classpath.txt). Default: python on a GPU,
#                            maven on the CPU.
#   --bench full|quick|none  the speed benchmark: full (--repeats 3), quick (--quick, seconds) or
#                            none. Default: full on a GPU, quick on the CPU.
#   --bench-timeout S        stop the benchmark after S seconds (default 300; its tables so far stay)
#   --check-timeout S        stop the GPU check after S seconds (default 300)
# Reports in the output folder: summary.txt (one line per step, then PASS or FAIL), machine.txt
# (kernel, glibc, CPUs, nvidia-smi, torch), gpu-check.txt (GpuCheck's table), bench-speed.txt (the
# benchmark's tables) with bench/benchmarks.md and its plots, run.log (everything), and the bridge's
# build logs if its build failed.
# Exit status: 0 the check passed (and the benchmark ran), 1 the check failed or the benchmark
# failed, 2 the machine lacks something (the message says what) or a bad argument.
set -uo pipefail
kit="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "run.sh: $*" >&2; }
die() {
  say "error: $*"
  if [ -n "${out:-}" ] && [ -d "$out" ]; then printf 'error: %s\nFAIL\n' "$*" >>"$out/summary.txt"; fi
  exit 2
}
device=gpu
out="${OUT:-$PWD/gpu-kit-report}"
libtorch=""
bench=""
bench_timeout=300
check_timeout=300
while [ "$#" -gt 0 ]; do
  [ "$#" -ge 2 ] || die "$1 needs a value"
  case "$1" in
    --device) device="$2" ;;
    --out) out="$2" ;;
    --libtorch) libtorch="$2" ;;
    --bench) bench="$2" ;;
    --bench-timeout) bench_timeout="$2" ;;
    --check-timeout) check_timeout="$2" ;;
    *) die "unknown option '$1'; expected --device, --out, --libtorch, --bench, --bench-timeout, --check-timeout" ;;
  esac
  shift 2
done
[[ "$device" =~ ^(cpu|gpu|gpu:[0-9]+)$ ]] || die "--device $device: expected cpu, gpu or gpu:N"
if [ -z "$libtorch" ]; then
  if [ "$device" = cpu ]; then libtorch=maven; else libtorch=python; fi
fi
[[ "$libtorch" =~ ^(python|maven)$ ]] || die "--libtorch $libtorch: expected python or maven"
[ -n "$bench" ] || { if [ "$device" = cpu ]; then bench=quick; else bench=full; fi; }
[[ "$bench" =~ ^(full|quick|none)$ ]] || die "--bench $bench: expected full, quick or none"
[[ "$bench_timeout" =~ ^[1-9][0-9]*$ ]] || die "--bench-timeout $bench_timeout: expected seconds > 0"
[[ "$check_timeout" =~ ^[1-9][0-9]*$ ]] || die "--check-timeout $check_timeout: expected seconds > 0"
[ -f "$kit/kit.env" ] || die "no kit.env beside $0: build the kit with tools/gpu-kit.sh"
# shellcheck disable=SC1091
. "$kit/kit.env"
mkdir -p "$out" || die "cannot create --out $out"
out="$(cd "$out" && pwd)"
rm -f "$out/summary.txt"
exec > >(tee -a "$out/run.log") 2>&1
start=$SECONDS
say "kit: DJL $DJL_VERSION, Java $JAVA_VERSION, built from $BUILT_FROM; device $device, libtorch $libtorch, bench $bench"
say "reports: $out"

# ---- the machine
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "kernel: $(uname -srm)"
  echo "glibc: $(getconf GNU_LIBC_VERSION 2>/dev/null || echo unknown)"
  echo "cpus: $(nproc 2>/dev/null || echo unknown)"
  echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv 2>&1 || true
    nvidia-smi 2>&1 | head -20 || true
  fi
} >"$out/machine.txt" 2>&1

[ "$(uname -m)" = x86_64 ] || die "this kit's Java runtime is for x86_64; this machine is $(uname -m)"
have="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')"
if [ -n "${GLIBC_REQUIRED:-}" ] && [ -n "$have" ] \
  && [ "$(printf '%s\n%s\n' "$GLIBC_REQUIRED" "$have" | sort -t. -k1,1n -k2,2n | head -1)" != "$GLIBC_REQUIRED" ]; then
  die "the kit's Java runtime needs glibc $GLIBC_REQUIRED or newer; this machine has $have"
fi
java="$kit/jre/bin/java"
# a copy that lost the executable bits (a carry or an unpacked archive without modes) still runs
if [ ! -x "$java" ] || [ ! -x "$kit/jre/lib/jspawnhelper" ]; then
  chmod u+x "$kit"/jre/bin/* "$kit/jre/lib/jspawnhelper" "$kit/gpu-python-torch.sh" 2>/dev/null || true
fi
"$java" -version >/dev/null 2>&1 || die "the kit's Java runtime does not start: $("$java" -version 2>&1 | head -2)"
say "check: Java runtime starts (glibc ${have:-?}, needs ${GLIBC_REQUIRED:-?})"

if [ "$device" != cpu ]; then
  command -v nvidia-smi >/dev/null || die "no nvidia-smi: no NVIDIA driver on this machine"
  gpus="$(nvidia-smi -L 2>&1)" || die "nvidia-smi fails: $(head -1 <<<"$gpus")"
  [ -n "$gpus" ] || die "nvidia-smi lists no GPU"
  say "check: $(wc -l <<<"$gpus") GPU(s): $(head -1 <<<"$gpus")"
fi

classpath="$(printf '%s:' "$kit"/lib/*.jar)"
classpath="${classpath%:}"
if [ "$libtorch" = maven ]; then
  [ "$device" = cpu ] || die "--libtorch maven has the CPU libtorch only; use --libtorch python on a GPU"
  while read -r j; do
    [ -n "$j" ] || continue
    [ -f "$j" ] || die "no $j: --libtorch maven needs the CPU libtorch jars of the machine that built the kit (cpu-classpath.txt)"
    classpath="$classpath:$j"
  done <"$kit/cpu-classpath.txt"
  grep -q pytorch-native "$kit/cpu-classpath.txt" || die "the kit builder found no CPU libtorch jar (cpu-classpath.txt)"
  export DJL_OFFLINE=true
  say "check: CPU libtorch $TORCH_CPU_VERSION from $(grep pytorch-native "$kit/cpu-classpath.txt")"
else
  py="${TORCH_PYTHON:-python3}"
  if [ -z "${TORCH_DIR:-}" ]; then
    command -v "$py" >/dev/null || die "no $py: --libtorch python needs python3 with torch (or TORCH_DIR)"
    info="$("$py" -c 'import os, torch
print(torch.__version__, torch.version.cuda or "none", int(torch.cuda.is_available()), torch.cuda.device_count(), os.path.dirname(torch.__file__))' 2>&1)" \
      || die "$py cannot import torch: $(tail -1 <<<"$info") (set TORCH_PYTHON to a python with torch)"
    read -r tv tcuda tavail tcount tdir <<<"$(tail -1 <<<"$info")"
    echo "torch: $tv, CUDA $tcuda, cuda.is_available $tavail, $tcount device(s), $tdir" >>"$out/machine.txt"
    if [ "$device" != cpu ]; then
      [ "$tcuda" != none ] || die "python's torch $tv is a CPU build (torch.version.cuda is None)"
      [ "$tavail" = 1 ] || die "python's torch $tv (CUDA $tcuda) sees no GPU (torch.cuda.is_available() is False)"
    fi
    [ -f "$tdir/include/torch/script.h" ] || die "python's torch in $tdir has no C++ headers (include/torch)"
    say "check: python torch $tv (CUDA $tcuda) in $tdir"
  fi
  compiler=""
  for c in "${CXX:-}" g++ c++; do
    if [ -n "$c" ] && command -v "$c" >/dev/null; then compiler="$c" && break; fi
  done
  [ -n "$compiler" ] || die "no C++ compiler (g++): DJL's JNI bridge is compiled here"
  say "check: compiler $("$compiler" --version | head -1); cmake: $(cmake --version 2>/dev/null | head -1 || echo 'none (direct compile)')"
  [ "${HAS_DJL_SRC:-0}" = 1 ] && [ -d "$kit/djl-src" ] \
    || die "this kit has no DJL JNI sources (built without DJL_SRC): rebuild it with DJL_SRC=<DJL v$DJL_VERSION checkout> tools/gpu-kit.sh"
  # the bridge, then DJL's settings from gpu-python-torch.sh (printed by a child shell, sourced here)
  cache="${DJL_CACHE_DIR:-${TMPDIR:-/tmp}/ttt-gpu-kit-djl}"
  jni_build="${JNI_BUILD_DIR:-${TMPDIR:-/tmp}/ttt-gpu-kit-jni}"
  say "building DJL's JNI bridge against python's torch (log: $out/bridge.log) ..."
  t=$SECONDS
  if ! DJL_SRC="$kit/djl-src" DJL_VERSION="$DJL_VERSION" JAVA_HOME="$kit/jre" DJL_CACHE_DIR="$cache" \
    JNI_BUILD_DIR="$jni_build" bash "$kit/gpu-python-torch.sh" bash -c 'declare -p PYTORCH_LIBRARY_PATH \
      PYTORCH_VERSION PYTORCH_FLAVOR DJL_CACHE_DIR DJL_OFFLINE PYTORCH_LIBRARY_EXCLUSION LD_LIBRARY_PATH \
      TTT_JAVA_OPTS 2>/dev/null; true' >"$out/djl-env.sh" 2>"$out/bridge.log"; then
    tail -30 "$out/bridge.log" >&2
    cp "$jni_build"/*.log "$out/" 2>/dev/null || true
    mkdir -p "$out/bridge-direct" && cp "$jni_build"/direct/*.log "$out/bridge-direct/" 2>/dev/null || true
    echo "bridge: FAIL (see bridge.log)" >>"$out/summary.txt"
    die "DJL's JNI bridge did not build against python's torch (bridge.log, cmake.log, build.log)"
  fi
  # shellcheck disable=SC1091
  . "$out/djl-env.sh"
  echo "bridge: OK in $((SECONDS - t)) s ($PYTORCH_VERSION $PYTORCH_FLAVOR)" >>"$out/summary.txt"
  say "bridge: OK in $((SECONDS - t)) s; PYTORCH_LIBRARY_PATH=$PYTORCH_LIBRARY_PATH PYTORCH_VERSION=$PYTORCH_VERSION PYTORCH_FLAVOR=$PYTORCH_FLAVOR"
fi

# ---- the GPU check and the benchmark, each bounded in time
export NVIDIA_TF32_OVERRIDE=0 OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
# shellcheck disable=SC2206
jopts=(${TTT_JAVA_OPTS:-} -Djava.awt.headless=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn)
status=0
say "GpuCheck --device $device (at most $check_timeout s) ..."
t=$SECONDS
timeout -k 10 "$check_timeout" "$java" "${jopts[@]}" -cp "$classpath" ai.djl.ttt.examples.GpuCheck \
  --device "$device" --cases "$kit/cases" 2>&1 | tee "$out/gpu-check.txt"
rc=${PIPESTATUS[0]}
case "$rc" in
  0) echo "gpu-check: PASS in $((SECONDS - t)) s" >>"$out/summary.txt" ;;
  124 | 137) echo "gpu-check: FAIL (stopped after $check_timeout s)" >>"$out/summary.txt" && status=1 ;;
  *) echo "gpu-check: FAIL (exit $rc)" >>"$out/summary.txt" && status=1 ;;
esac
if [ "$bench" != none ]; then
  opts=(--repeats 3)
  [ "$bench" = quick ] && opts=(--quick)
  mkdir -p "$out/bench"
  say "ttt bench speed ${opts[*]} --device $device (at most $bench_timeout s) ..."
  t=$SECONDS
  timeout -k 10 "$bench_timeout" "$java" "${jopts[@]}" -cp "$classpath" ai.djl.ttt.examples.TttCli \
    bench speed "${opts[@]}" --device "$device" --out "$out/bench/benchmarks.md" 2>&1 \
    | tee "$out/bench-speed.txt"
  rc=${PIPESTATUS[0]}
  case "$rc" in
    0) echo "bench speed: OK in $((SECONDS - t)) s (${opts[*]})" >>"$out/summary.txt" ;;
    124 | 137) echo "bench speed: STOPPED after $bench_timeout s (tables so far in bench-speed.txt)" >>"$out/summary.txt" && status=1 ;;
    *) echo "bench speed: FAIL (exit $rc)" >>"$out/summary.txt" && status=1 ;;
  esac
fi
if [ "$status" = 0 ]; then echo PASS >>"$out/summary.txt"; else echo FAIL >>"$out/summary.txt"; fi
say "done in $((SECONDS - start)) s"
cat "$out/summary.txt"
exit "$status"
