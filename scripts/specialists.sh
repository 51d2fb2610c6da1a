#!/usr/bin/env bash
# Trains the four ShapesWorld specialists for RESULTS.md: one model per task, same size and seed as
# the unified model and its very codec (--codec-from: no codec stage), each trained until it has
# seen as many tokens of its task as the unified model saw (tokensSeenPerTask in its
# recipe_outcome.json, passed as --task-tokens; the recipe turns it into steps from its own packed
# rows, padding excluded). Then scores them beside it:
#   scripts/specialists.sh [UNIFIED_DIR] [OUT_DIR]     (defaults: Models/shapes-emu3, out/specialists)
# EMU=path/to/emu uses that binary instead of building one. TASKS="video actions" trains and
# scores only those tasks (each compared on its own task, OUT_DIR/compare-TASK.json). RESUME=1
# continues specialists whose runs were cut short (a finished one is left as it is).
set -euo pipefail
cd "$(dirname "$0")/.."
unified="${1:-Models/shapes-emu3}"
out="${2:-out/specialists}"
if [[ -z "${EMU:-}" ]]; then swift build -c release --product emu >&2; fi
emu="${EMU:-.build/release/emu}"
seed=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['seed'])" "$unified/recipe_settings.json")
# The unified model's data and size settings, so each specialist trains on the same samples of its
# task (a unified model made with --videos 3600 gets a video specialist on those 3600 clips).
read -r -a same <<< "$(python3 - "$unified/recipe_settings.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
flags = {"captionCount": "--captions", "captioningShare": "--captioning-share", "questionCount": "--questions",
         "videoCount": "--videos", "actionEpisodes": "--action-episodes", "actionNoise": "--action-noise",
         "actionChunk": "--action-chunk", "questionsPerPicture": "--questions-per-picture", "videoContextNoise": "--video-context-noise", "positionStep": "--position-step", "hiddenSize": "--hidden-size",
         "layers": "--layers", "learningRate": "--learning-rate", "imageGuidance": "--image-cfg", "imageTemperature": "--image-temperature"}
# A folder saved before the gripper options existed was trained on clean single-action labels:
# say so, or its specialists would get today's recipe defaults.
s.setdefault("actionNoise", 0); s.setdefault("actionChunk", 1)
out = [f"{flag} {s[key]}" for key, flag in flags.items() if s.get(key) is not None]
sources = {"modelPredictions": "model", "modelRollout": "rollout"}
if s.get("videoContextSource") in sources: out.append("--video-context-source " + sources[s["videoContextSource"]])
# The reasoning options and example isolation (a unified model that writes before answering or
# acting, or trains on isolated examples, gets specialists that do too, or the comparison would
# measure the option, not the sharing).
options = {"describeBeforeAnswer": "--describe-then-answer", "answerFromDescription": "--answer-from-description",
           "readingOrderCaptions": "--reading-order-captions", "isolatesTurns": "--isolate-turns",
           "locateBeforeActing": "--locate-then-act", "listObjectsBeforeActing": "--list-objects"}
out += [flag for key, flag in options.items() if s.get(key) is True]
# Both ways, since isolation is the recipe's default: a unified model trained without it
# (models 1-5, whose settings lack the key) gets specialists without it.
out.append("--isolate-examples" if s.get("isolatesExamples") is True else "--no-isolate-examples")
print(" ".join(out))
PY
)"
mkdir -p "$out"
all_tasks="t2i understanding video actions"
tasks="${TASKS:-$all_tasks}"
for task in $tasks; do
    seen=$(python3 -c "import json,sys; o=json.load(open(sys.argv[1])); print(int(round(o['tokensSeenPerTask'][sys.argv[2]])))" "$unified/recipe_outcome.json" "$task")
    echo "specialist $task: $seen tokens of its task" >&2
    resume=()
    if [[ -n "${RESUME:-}" ]]; then resume=(--resume); fi
    "$emu" train --recipe shapes --seed "$seed" --codec-from "$unified" --tasks "$task" --task-tokens "$seen" "${same[@]}" "${resume[@]}" --out "$out/$task" --json > "$out/$task.json"
done
if [[ "$tasks" == "$all_tasks" ]]; then
    "$emu" eval --model "$unified" --samples 50 --compare "$out" --json > "$out/compare.json"
    python3 scripts/results-table.py "$out/compare.json"
else
    for task in $tasks; do
        "$emu" eval --model "$unified" --task "$task" --samples 50 --compare "$out" --json > "$out/compare-$task.json"
        python3 scripts/results-table.py "$out/compare-$task.json"
    done
fi
