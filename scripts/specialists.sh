#!/usr/bin/env bash
# Trains the four ShapesWorld specialists for RESULTS.md: one model per task, same size and seed as
# the unified model, each trained for as many steps as it takes to see the tokens of its task that
# the unified model saw (tokensSeenPerTask in its recipe_outcome.json; steps assume full rows, and
# rows hold some padding, so a specialist sees 10-13% fewer). Then scores them beside it:
#   scripts/specialists.sh [UNIFIED_DIR] [OUT_DIR]     (defaults: Models/shapes-emu3, out/specialists)
# EMU=path/to/emu uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
unified="${1:-Models/shapes-emu3}"
out="${2:-out/specialists}"
if [[ -z "${EMU:-}" ]]; then swift build -c release --product emu >&2; fi
emu="${EMU:-.build/release/emu}"
seed=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['seed'])" "$unified/recipe_settings.json")
read -r batch length < <(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['batchSize'], s['sequenceLength'])" "$unified/recipe_settings.json")
mkdir -p "$out"
for task in t2i understanding video actions; do
    seen=$(python3 -c "import json,sys; o=json.load(open(sys.argv[1])); print(int(round(o['tokensSeenPerTask'][sys.argv[2]])))" "$unified/recipe_outcome.json" "$task")
    steps=$(( (seen + batch * length - 1) / (batch * length) ))
    echo "specialist $task: $seen tokens = $steps steps of $batch x $length" >&2
    "$emu" train --recipe shapes --seed "$seed" --tasks "$task" --steps "$steps" --out "$out/$task" --json > "$out/$task.json"
done
"$emu" eval --model "$unified" --compare "$out" --json > "$out/compare.json"
"$emu" eval --model "$unified" --compare "$out"
