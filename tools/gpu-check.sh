#!/usr/bin/env bash
# The GPU check: the parity cases, prefill + decode against one forward pass, and one training step,
# on one device, with a PASS/FAIL table of the largest relative errors (ai.djl.ttt.examples.GpuCheck).
#
#   tools/gpu-check.sh                 # --device gpu: builds with -Pcuda (DJL downloads the CUDA
#                                      # libtorch 2.7.1, cu128, on first use; see docs/gpu.md)
#   tools/gpu-check.sh --device gpu:1
#   tools/gpu-check.sh --device cpu    # the same checks on the CPU libtorch (offline)
#
# TF32 is off (NVIDIA_TF32_OVERRIDE=0 disables it in cuBLAS and cuDNN): float32 results then differ
# from the CPU's only by summation order, within the stated tolerance (1e-4 on a GPU, 1e-5 on a CPU;
# --tolerance X changes it). Exit status: 0 all PASS, 1 a FAIL, 2 bad arguments or no such device.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
args=("$@")
device=gpu
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--device" ] && [ $((i + 1)) -lt ${#args[@]} ]; then
    device="${args[$((i + 1))]}"
  fi
done
if [ "$#" -eq 0 ] || [[ " $* " != *" --device "* ]]; then
  args=(--device gpu "${args[@]}")
fi
profile=cuda
if [ "$device" = "cpu" ]; then
  profile=cpu
fi
cd "$root"
echo "gpu-check: building with -P$profile (mvn package) ..." >&2
# the classpath from Maven, not target/lib: that folder may still hold the other profile's libtorch
# jansi.noreset: no bare colour resets (ESC[0m) from Maven's console library (see bin/ttt)
MAVEN_OPTS="${MAVEN_OPTS:-} -Djansi.noreset=true" mvn -q -B -ntp -P"$profile" -DskipTests \
  -Dmdep.outputFile=target/gpu-check-classpath.txt -Dmdep.includeScope=runtime \
  package dependency:build-classpath >&2
classpath="$root/ttt-djl-examples/target/ttt-djl-examples.jar:$(cat ttt-djl-examples/target/gpu-check-classpath.txt)"
export NVIDIA_TF32_OVERRIDE=0
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
if [ "$profile" = "cuda" ]; then
  export PYTORCH_FLAVOR="${PYTORCH_FLAVOR:-cu128}"
fi
# shellcheck disable=SC2086
exec java ${TTT_JAVA_OPTS:-} -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$classpath" ai.djl.ttt.examples.GpuCheck "${args[@]}"
