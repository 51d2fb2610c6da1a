#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md in one run: ours against PyTorch (same machine, same configs,
# same thread count) and against the machine's limits. Not part of the tests.
#
#   scripts/bench.sh [--quick] [--python PYTHON]
#
# PYTHON defaults to scripts/reference/.venv/bin/python (created by scripts/reference/setup.sh);
# without it only the Swift side runs. --quick uses fewer tokens and sizes (minutes, not tens).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
python=scripts/reference/.venv/bin/python
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --python) python="$2"; shift ;;
    *) echo "usage: scripts/bench.sh [--quick] [--python PYTHON]" >&2; exit 2 ;;
  esac
  shift
done
have_python=0
if [ -x "$python" ] && "$python" -c "import torch, transformers" 2>/dev/null; then have_python=1; fi
[ $have_python = 1 ] || echo "note: no reference Python ($python): Swift figures only" >&2

swift build -c release --product emu >&2
emu=.build/release/emu
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
tokens=32; prompt=128; vq_sizes="256 512"; train_steps=3
if [ $quick = 1 ]; then tokens=8; prompt=32; vq_sizes="256"; train_steps=1; fi

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== kernels (issue 2)"
$emu bench kernels

echo
echo "== transformer decode/prefill, float32, 2 threads (issue 4)"
printf '%-6s %14s %14s %7s %14s %14s %7s\n' size "swift prefill" "torch prefill" ratio "swift decode" "torch decode" ratio
for size in 100m 1b; do
  $emu bench decode --size "$size" --prompt $prompt --tokens $tokens --json > "$out/swift.json"
  if [ $have_python = 1 ]; then
    "$python" scripts/reference/bench_decode.py --size "$size" --prompt $prompt --tokens $tokens > "$out/torch.json"
  else echo '{}' > "$out/torch.json"; fi
  python3 - "$size" "$out/swift.json" "$out/torch.json" <<'EOF'
import json, sys
size, s, t = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
def f(x): return f"{x:14.2f}" if x is not None else f"{'n/a':>14}"
def r(a, b): return f"{a / b:7.2f}" if a and b else f"{'n/a':>7}"
sp, tp = s["prefillTokensPerSecond"], t.get("prefillTokensPerSecond")
sd, td = s["decodeTokensPerSecond"], t.get("decodeTokensPerSecond")
print(f"{size:<6} {f(sp)} {f(tp)} {r(sp, tp)} {f(sd)} {f(td)} {r(sd, td)}")
EOF
done
echo
echo "== bf16 decode against the memory-bandwidth bound (issue 4)"
$emu bench decode --size 1b --dtype bfloat16 --prompt 16 --tokens $tokens

echo
echo "== vision tokenizer, real Emu3 VQ shapes, float32 (issue 3)"
reference_args=()
if [ $have_python = 1 ]; then
  : > "$out/vq.jsonl"
  # One size per process: ru_maxrss is a high-water mark.
  for size in $vq_sizes; do "$python" scripts/reference/bench_vq.py --sizes "$size" >> "$out/vq.jsonl"; done
  reference_args=(--reference "$out/vq.jsonl")
fi
for size in $vq_sizes; do $emu bench vq --sizes "$size" "${reference_args[@]}"; done

echo
echo "== training throughput, ~20M parameters, sequence 512, batch 4 (issue 5)"
$emu bench train --size 20m --steps $train_steps
if [ $have_python = 1 ]; then "$python" scripts/reference/bench_train.py --threads 2 --steps $train_steps; fi
