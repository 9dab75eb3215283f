#!/usr/bin/env bash
# CI's brief fuzzing run of the GGUF reader: compiles the reader alone with clang + libFuzzer +
# ASan/UBSan (seconds, no second full build) and fuzzes it from generated seeds for a short time.
# Any crash, leak or sanitizer report fails the test. Longer runs: see tests/fuzz/fuzz_gguf.cpp.
#   tests/fuzz/fuzz_smoke.sh OUT_DIR [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: fuzz_smoke.sh OUT_DIR [SECONDS]}
seconds=${2:-20}
mkdir -p "$out/seeds" "$out/corpus"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/src" -I"$root/include" \
    "$root"/src/gguf/*.cpp "$root/src/quant/dtype.cpp" "$root/src/core/error.cpp" "$root/src/core/utf8.cpp" \
    "$root/tests/fuzz/fuzz_gguf.cpp" -o "$out/fuzz_gguf"
python3 "$root/tests/fuzz/make_gguf_seeds.py" "$out/seeds" > /dev/null
cd "$out"
./fuzz_gguf -max_len=4096 -max_total_time="$seconds" -print_final_stats=1 corpus seeds 2>&1 | tail -n 12
