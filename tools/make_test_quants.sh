#!/bin/sh
# The low-bit test files (issue 14): llama.cpp's own llama-quantize turns the registry model's
# Q8_0 copy into the files board users download. For Qwen2.5-0.5B (rows of 896, not a multiple
# of 256) llama-quantize falls back to Q4_0/Q5_0/IQ4_NL for most matrices, so each K/XS type
# appears only in ffn_down (rows of 4864); the q2_k-ffn file forces Q2_K there, since llama.cpp's
# own Q2_K mix keeps Q3_K for it. Files go to OUT (default ~/.local/share/parrot/models/test-quants),
# never into the repository; existing ones are kept. Needs `make peer` (PEER_DIR) first.
set -eu
PEER_DIR=${PEER_DIR:-build/peer}
PARROT=${PARROT:-.venv/bin/parrot}
MODELS=${MODELS:-$HOME/.local/share/parrot/models}
OUT=${OUT:-$MODELS/test-quants}
SRC="$MODELS/qwen2.5-coder-0.5b-instruct-q8_0.gguf"
Q=""
for c in "$PEER_DIR/bin/llama-quantize" "$PEER_DIR/build/bin/llama-quantize"; do [ -x "$c" ] && Q=$c && break; done
[ -n "$Q" ] || { echo "test-quants: llama-quantize not found in $PEER_DIR (run: make peer PEER_DIR=$PEER_DIR)" >&2; exit 1; }
[ -f "$SRC" ] || "$PARROT" models pull --default --convert-q8 --quiet
mkdir -p "$OUT"
make_one() { # name type [extra llama-quantize options]
    name=$1 type=$2
    shift 2
    dst="$OUT/qwen2.5-coder-0.5b-instruct-$name.gguf"
    [ -f "$dst" ] && { echo "test-quants: $dst exists"; return; }
    nice -n 10 "$Q" --allow-requantize "$@" "$SRC" "$dst.tmp" "$type" 2 > "$OUT/$name.log" 2>&1 \
        || { echo "test-quants: llama-quantize $type failed, see $OUT/$name.log" >&2; exit 1; }
    mv "$dst.tmp" "$dst"
    echo "test-quants: wrote $dst"
}
make_one q2_k Q2_K
make_one q2_k-ffn Q2_K --tensor-type ffn_down=q2_k
make_one q3_k_s Q3_K_S
make_one iq4_nl IQ4_NL
make_one iq4_xs IQ4_XS
