#!/usr/bin/env bash
# Runs a command on an installed PyTorch (python's torch package, e.g. 2.11.0+cu130) instead of the
# libtorch 2.7.1 that DJL 0.36.0's PyTorch engine was built for: it builds DJL's JNI bridge
# (libdjl_torch.so) from DJL's own sources against that libtorch, puts it where DJL's LibUtils looks
# for it, and sets DJL's variables so that DJL loads that libtorch and that bridge, offline.
# Why: the bridge in pytorch-jni's jar is compiled against libtorch 2.7.1's C++ API and misreads
# another version's tensors; Maven Central has no CUDA libtorch 2.7.1. See docs/gpu.md.
#
#   DJL_SRC=~/djl tools/gpu-python-torch.sh tools/gpu-check.sh   # the GPU check on python's torch
#   DJL_SRC=~/djl tools/gpu-python-torch.sh ./bin/ttt parity --device gpu ...
#   DJL_SRC=~/djl tools/gpu-python-torch.sh                      # only build, print the settings
#
# DJL_SRC: a checkout of github.com/deepjavalibrary/djl at the tag of the DJL version in use
#   (git clone -b v0.36.0 --depth 1 ...); only engines/pytorch/pytorch-native/{CMakeLists.txt,
#   src/main/native}, engines/pytorch/pytorch-engine/.../jni/PyTorchLibrary.java (or a header made
#   from it in engines/pytorch/pytorch-native/build/include) and api/src/main/native are read.
# Optional: TORCH_PYTHON (python with torch; default python3), or TORCH_DIR (the torch package or a
#   libtorch folder: lib/, include/, share/cmake/) with TORCH_VERSION (e.g. 2.11.0+cu130, else read
#   from TORCH_DIR/version.py or build-version); DJL_VERSION (default: the djl.version of
#   the repository's pom.xml); DJL_CACHE_DIR
#   (default ~/.djl.ai); JNI_BUILD_DIR (default /tmp/djl-jni-<version>-<flavor>); JAVA_HOME (its
#   include/ has jni.h); JOBS (default nproc); JNI_FORCE=1 rebuilds; JNI_DIRECT=1 compiles without
#   CMake (as the script does when the CMake build fails).
# Needs: a C++17 compiler (C++20 for libtorch 2.14 and later), and cmake (with ninja or make) or
#   else only the compiler; for a CUDA torch, the CUDA toolkit (nvcc, headers; CUDA_HOME or
#   /usr/local/cuda or nvcc on PATH) for the cmake build, its headers for the direct compile.
set -euo pipefail
log() { echo "gpu-python-torch: $*" >&2; }
die() {
  log "error: $*"
  exit 2
}

# ---- the libtorch to use
if [ -z "${TORCH_DIR:-}" ]; then
  py="${TORCH_PYTHON:-python3}"
  info="$("$py" -c 'import os, torch
print(os.path.dirname(torch.__file__)); print(torch.__version__); print(torch.version.cuda or "")
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')" || die "$py cannot import torch (set TORCH_PYTHON or TORCH_DIR)"
  TORCH_DIR="$(sed -n 1p <<<"$info")"
  TORCH_VERSION="$(sed -n 2p <<<"$info")"
  torch_cuda="$(sed -n 3p <<<"$info")"
  torch_abi="$(sed -n 4p <<<"$info")"
else
  if [ -z "${TORCH_VERSION:-}" ]; then
    if [ -f "$TORCH_DIR/version.py" ]; then
      TORCH_VERSION="$(sed -n "s/^__version__ = '\(.*\)'/\1/p" "$TORCH_DIR/version.py")"
    elif [ -f "$TORCH_DIR/build-version" ]; then
      TORCH_VERSION="$(cat "$TORCH_DIR/build-version")"
    fi
  fi
  [ -n "${TORCH_VERSION:-}" ] || die "TORCH_DIR=$TORCH_DIR: set TORCH_VERSION (e.g. 2.11.0+cu130)"
  torch_cuda=""
  if [[ "$TORCH_VERSION" =~ \+cu([0-9]+)([0-9])$ ]]; then
    torch_cuda="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
  fi
  torch_abi=1
fi
[ -f "$TORCH_DIR/lib/libtorch.so" ] || die "no lib/libtorch.so in $TORCH_DIR"
[ -d "$TORCH_DIR/include/torch" ] || die "no include/torch in $TORCH_DIR (headers are needed)"
version="${TORCH_VERSION%%+*}"
if [ -n "$torch_cuda" ]; then
  flavor="cu${torch_cuda//./}"
else
  flavor=cpu
fi
case "$(uname -m)" in
  x86_64) classifier=linux-x86_64 ;;
  aarch64) classifier=linux-aarch64 ;;
  *) die "unsupported machine $(uname -m)" ;;
esac
djl_version="${DJL_VERSION:-}"
if [ -z "$djl_version" ]; then
  pom="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/pom.xml"
  djl_version="$(sed -n 's|.*<djl.version>\(.*\)</djl.version>.*|\1|p' "$pom" 2>/dev/null | head -1)"
  [ -n "$djl_version" ] || die "set DJL_VERSION (the DJL version in use; no $pom to read it from)"
fi
cache="${DJL_CACHE_DIR:-$HOME/.djl.ai}"
jni="$cache/pytorch/$version-$flavor-$classifier/$djl_version-libdjl_torch.so"
log "libtorch $TORCH_VERSION ($flavor) in $TORCH_DIR"

# ---- the JNI bridge, built once per (libtorch version, flavor, DJL version)
build_jni() {
  [ -n "${DJL_SRC:-}" ] || die "set DJL_SRC to a DJL $djl_version source tree (see the header of $0)"
  [ -f "$DJL_SRC/engines/pytorch/pytorch-native/CMakeLists.txt" ] \
    || die "DJL_SRC=$DJL_SRC has no engines/pytorch/pytorch-native/CMakeLists.txt"
  local build="${JNI_BUILD_DIR:-/tmp/djl-jni-$version-$flavor}"
  local jobs="${JOBS:-$(nproc)}"
  local java_home="${JAVA_HOME:-}"
  if [ -z "$java_home" ] && command -v javac >/dev/null; then
    java_home="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
  fi
  local jni_inc="$java_home/include"
  [ -f "$jni_inc/jni.h" ] || die "no jni.h in '$jni_inc' (set JAVA_HOME to a JDK)"
  # a copy of the sources DJL's CMakeLists.txt reads, in its layout: DJL_SRC stays untouched
  rm -rf "$build/src"
  local native="$build/src/engines/pytorch/pytorch-native"
  mkdir -p "$native/src/main" "$native/build" "$build/src/api/src/main"
  cp "$DJL_SRC/engines/pytorch/pytorch-native/CMakeLists.txt" "$native/"
  cp -r "$DJL_SRC/engines/pytorch/pytorch-native/src/main/native" "$native/src/main/"
  cp -r "$DJL_SRC/api/src/main/native" "$build/src/api/src/main/"
  # the header of PyTorchLibrary's native methods (DJL's build.sh makes it with javac -h)
  local header="$DJL_SRC/engines/pytorch/pytorch-native/build/include"
  if [ -f "$header/ai_djl_pytorch_jni_PyTorchLibrary.h" ]; then
    cp -r "$header" "$native/build/"
  else
    command -v javac >/dev/null || die "no $header/ai_djl_pytorch_jni_PyTorchLibrary.h, no javac"
    javac -h "$native/build/include" -d "$build/classes" \
      "$DJL_SRC/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java"
  fi
  # DJL builds with C++17; libtorch 2.14's headers refuse anything below C++20
  local std=17
  if grep -q "__cplusplus < 202002L" "$TORCH_DIR/include/ATen/ATen.h" 2>/dev/null; then std=20; fi
  sed -i "s/PROPERTY CXX_STANDARD 17/PROPERTY CXX_STANDARD $std/" "$native/CMakeLists.txt"
  local cuda_inc=() d
  if [ -n "$torch_cuda" ]; then
    # headers of the CUDA libraries that libtorch's CUDA headers include (cublas_v2.h, ...): the
    # toolkit's first, then those of the pip packages beside python's torch
    for d in "${CUDA_HOME:-/usr/local/cuda}/include" "$TORCH_DIR"/../nvidia/*/include; do
      if [ -d "$d" ]; then cuda_inc+=("$(cd "$d" && pwd)"); fi
    done
  fi
  local extra=""
  for d in "${cuda_inc[@]}"; do extra="$extra -idirafter $d"; done
  if [ "${JNI_DIRECT:-0}" != 1 ] && command -v cmake >/dev/null && cmake_build; then
    return 0
  fi
  log "cmake build failed or cmake missing: compiling the sources directly"
  if direct_build; then
    return 0
  fi
  if [ "$std" = 17 ]; then
    log "C++17 failed: again with C++20"
    std=20
    direct_build && return 0
  fi
  die "compiling DJL's JNI sources failed (logs in $build/direct)"
}

cmake_build() {
  local gen=()
  if command -v ninja >/dev/null; then gen=(-G Ninja); fi
  local cuda_args=()
  if [ -n "$torch_cuda" ]; then
    # the toolkit: CUDA_HOME, CUDA_PATH, /usr/local/cuda, or where nvcc on PATH lives
    local root="" r nvcc
    nvcc="$(command -v nvcc || true)"
    for r in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda \
      ${nvcc:+"$(dirname "$(dirname "$(readlink -f "$nvcc")")")"}; do
      if [ -n "$r" ] && [ -x "$r/bin/nvcc" ] && [ -f "$r/include/cuda_runtime_api.h" ]; then
        root="$(readlink -f "$r")"
        break
      fi
    done
    if [ -z "$root" ]; then
      log "no CUDA toolkit (nvcc, cuda_runtime_api.h) found: libtorch's CMake config needs it"
      return 1
    fi
    nvcc="$root/bin/nvcc"
    # libtorch's config links libnvrtc; the pip torch's copy serves where the toolkit has none
    local nvrtc
    nvrtc="$(ls "$root"/lib64/libnvrtc.so "$root"/lib/libnvrtc.so "$TORCH_DIR"/../nvidia/*/lib/libnvrtc.so.* \
      2>/dev/null | head -1 || true)"
    # the architecture lists only spare the config a GPU probe: nothing here is CUDA code
    cuda_args=(-DUSE_CUDA=1 -DCMAKE_CUDA_COMPILER="$nvcc" -DCUDA_TOOLKIT_ROOT_DIR="$root"
      -DCMAKE_CUDA_ARCHITECTURES=75 -DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-7.5}")
    if [ -n "$nvrtc" ]; then cuda_args+=(-DCUDA_nvrtc_LIBRARY="$nvrtc"); fi
    PATH="$root/bin:$PATH"
  fi
  rm -rf "$build/cmake"
  log "cmake configure (log: $build/cmake.log)"
  if ! cmake -S "$native" -B "$build/cmake" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_PREFIX_PATH="$TORCH_DIR/share/cmake" \
    -DJAVA_INCLUDE_PATH="$jni_inc" -DJAVA_INCLUDE_PATH2="$jni_inc/linux" \
    -DJAVA_JVM_LIBRARY=NotNeeded -DCMAKE_CXX_FLAGS="$extra" "${cuda_args[@]}" \
    >"$build/cmake.log" 2>&1; then
    grep -m 20 -A 5 -i "error" "$build/cmake.log" >&2 || tail -20 "$build/cmake.log" >&2
    return 1
  fi
  log "cmake build, $jobs jobs (log: $build/build.log)"
  if ! cmake --build "$build/cmake" -j "$jobs" >"$build/build.log" 2>&1; then
    grep -m 30 -B 2 -A 8 "error" "$build/build.log" >&2 || tail -30 "$build/build.log" >&2
    return 1
  fi
  built="$build/cmake/libdjl_torch.so"
}

compile_one() {
  if [ "${#cuda_flags[@]}" -gt 0 ] && g++ "${flags[@]}" "${cuda_flags[@]}" -c "$1" -o "$2" >"$2.log" 2>&1; then
    return 0
  fi
  g++ "${flags[@]}" -c "$1" -o "$2" >>"$2.log" 2>&1
}

# The same compile and link as DJL's CMakeLists.txt, without CMake's CUDA detection.
direct_build() {
  local out="$build/direct"
  rm -rf "$out"
  mkdir -p "$out"
  local flags=(-O2 -fPIC -std=gnu++"$std" -D_GLIBCXX_USE_CXX11_ABI="$torch_abi"
    -I"$TORCH_DIR/include" -I"$TORCH_DIR/include/torch/csrc/api/include" -I"$jni_inc"
    -I"$jni_inc/linux" -I"$native/build/include" -I"$build/src/api/src/main/native")
  local cuda_flags=()
  if [ -n "$torch_cuda" ]; then
    cuda_flags=(-DUSE_CUDA)
    for d in "${cuda_inc[@]}"; do cuda_flags+=(-idirafter "$d"); done
  fi
  # each source with USE_CUDA where the torch has CUDA, else (or if that fails) without it: USE_CUDA
  # only adds DJL's separate CUDA stream for TorchScript inference and emptyCache
  local sources=("$native"/src/main/native/*.cc) f
  log "compiling ${#sources[@]} sources, $jobs jobs (logs: $out/*.log)"
  for f in "${sources[@]}"; do
    compile_one "$f" "$out/$(basename "$f" .cc).o" &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  done
  wait || true
  for f in "${sources[@]}"; do
    if [ ! -f "$out/$(basename "$f" .cc).o" ]; then
      grep -h -m 5 -A 5 "error" "$out"/*.log >&2 || true
      return 1
    fi
  done
  local cuda_libs=()
  if [ -n "$torch_cuda" ]; then cuda_libs=(-ltorch_cuda -lc10_cuda); fi
  if ! g++ -shared -o "$out/libdjl_torch.so" "$out"/*.o -L"$TORCH_DIR/lib" -Wl,--no-as-needed \
    "${cuda_libs[@]}" -ltorch -ltorch_cpu -lc10 -Wl,--as-needed -Wl,-rpath,'$ORIGIN' \
    >"$out/link.log" 2>&1; then
    cat "$out/link.log" >&2
    return 1
  fi
  built="$out/libdjl_torch.so"
}

if [ ! -f "$jni" ] || [ "${JNI_FORCE:-0}" = 1 ]; then
  built=""
  start=$SECONDS
  build_jni
  mkdir -p "$(dirname "$jni")"
  cp "$built" "$jni.tmp"
  mv "$jni.tmp" "$jni"
  log "built $jni in $((SECONDS - start)) s"
else
  log "using $jni (JNI_FORCE=1 rebuilds it)"
fi

# ---- DJL's settings (all DJL's own; see ai.djl.pytorch.jni.LibUtils)
export PYTORCH_LIBRARY_PATH="$TORCH_DIR/lib" PYTORCH_VERSION="$version" PYTORCH_FLAVOR="$flavor"
export DJL_CACHE_DIR="$cache" DJL_OFFLINE=true
# LibUtils loads every lib*.so of that folder without "torch_" in its name: skip libtorch's test
# libraries (some wheels ship them)
export PYTORCH_LIBRARY_EXCLUSION="${PYTORCH_LIBRARY_EXCLUSION:-libjitbackend_test.so,libtorchbind_test.so,libaoti_custom_ops.so,libbackend_with_compiler.so}"
if [ -n "$torch_cuda" ]; then
  # the pip CUDA libraries beside torch (libtorch's RUNPATH finds them too; the loader of JNA, which
  # DJL uses to count GPUs through libcudart, does not)
  for d in "$TORCH_DIR"/../nvidia/*/lib; do
    if [ -d "$d" ]; then LD_LIBRARY_PATH="$(cd "$d" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
  done
  export LD_LIBRARY_PATH
  cudart="$(ls "$TORCH_DIR"/../nvidia/*/lib/libcudart.so.* 2>/dev/null | head -1 || true)"
  if [ -n "$cudart" ]; then
    # JNA looks for libcudart.so; the pip package has only libcudart.so.<major>
    mkdir -p "$cache/jna"
    ln -sf "$(readlink -f "$cudart")" "$cache/jna/libcudart.so"
    export TTT_JAVA_OPTS="${TTT_JAVA_OPTS:-} -Djna.library.path=$cache/jna"
  fi
fi
log "PYTORCH_LIBRARY_PATH=$PYTORCH_LIBRARY_PATH PYTORCH_VERSION=$version PYTORCH_FLAVOR=$flavor" \
  "DJL_CACHE_DIR=$cache DJL_OFFLINE=true${TTT_JAVA_OPTS:+ TTT_JAVA_OPTS='$TTT_JAVA_OPTS'}"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
