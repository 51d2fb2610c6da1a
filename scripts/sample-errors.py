#!/usr/bin/env python3
"""Where a ShapesWorld model goes wrong, from the samples `emu eval --log-samples` writes.

usage: emu eval --task understanding --samples 500 --log-samples und.jsonl
       python3 scripts/sample-errors.py und.jsonl [more.jsonl ...]

Prints, for each model in the logs (by folder name):
- captions of two objects with a relation: the relation read right, turned around (the objects
  named in the other order with the same word, or the same order with the opposite word), on the
  other axis, or the objects wrong; by axis (left/right, above/below);
- relation questions: right, the opposite direction, or another;
- existence questions: what was answered against what is true (yes/no);
- text-to-image: per category, right or the first failed check; position failures split as the
  relation turned around, on the other axis, or no clear relation read;
- actions: success by instruction kind (put ... left of/right of/above/below, move ... to a corner);
- video: mean share of a clip's objects within 4 px at each predicted frame.
Standard library only.
"""
import collections
import json
import re
import sys

RELATIONS = ["left of", "right of", "above", "below"]
OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
AXIS = {"left of": "left/right", "right of": "left/right", "above": "above/below", "below": "above/below"}


def relation_parts(caption):
    """(first object, relation, second object) of "A <relation> B", or None."""
    for relation in RELATIONS:
        match = re.fullmatch(r"(.+) " + relation + r" (.+)", caption or "")
        if match:
            return match.group(1), relation, match.group(2)
    return None


def without_size(phrase):
    return re.sub(r"\b(small|large) ", "", phrase)


def relation_outcome(expected, written, ignore_size=False):
    """right, turned around, other axis, objects differ, or no relation (written has none)."""
    want, got = relation_parts(expected), relation_parts(written)
    if want is None:
        return None
    if got is None:
        return "no relation"
    a, relation, b = want
    x, said, y = got
    if ignore_size:
        a, b, x, y = map(without_size, (a, b, x, y))
    if (x, said, y) in [(a, relation, b), (b, OPPOSITE[relation], a)]:
        return "right"
    if (x, said, y) in [(a, OPPOSITE[relation], b), (b, relation, a)]:
        return "turned around"
    if {x, y} == {a, b}:
        return "other axis"
    return "objects differ"


def tally_line(counter):
    total = sum(counter.values())
    return ", ".join(f"{key} {value}" for key, value in counter.most_common()) + f" (of {total})"


def report(model, samples):
    print(f"## {model}")
    by_task = collections.defaultdict(list)
    for sample in samples:
        by_task[sample["task"]].append(sample)

    captions = by_task.get("caption", [])
    if captions:
        right = sum(s["correct"] for s in captions)
        print(f"captions exact: {right}/{len(captions)}")
        by_axis = collections.defaultdict(collections.Counter)
        for s in captions:
            outcome = relation_outcome(s["expected"], s["output"])
            if outcome:
                by_axis[AXIS[relation_parts(s["expected"])[1]]][outcome] += 1
        for axis, counter in sorted(by_axis.items()):
            print(f"  two objects {axis}: {tally_line(counter)}")

    questions = by_task.get("question", [])
    if questions:
        relation = collections.Counter()
        existence = collections.Counter()
        for s in questions:
            if s["kind"] == "relation":
                relation["right" if s["output"] == s["expected"]
                         else "opposite" if s["output"] == OPPOSITE.get(s["expected"]) else "other"] += 1
            if s["kind"] == "existence":
                existence[f"{s['expected']} answered {s['output'] or '(nothing)'}"] += 1
        kinds = collections.defaultdict(lambda: [0, 0])
        for s in questions:
            kinds[s["kind"]][0] += s["correct"]
            kinds[s["kind"]][1] += 1
        print("questions exact by kind: " + ", ".join(f"{k} {r}/{n}" for k, (r, n) in sorted(kinds.items())))
        if relation:
            print(f"  relation questions: {tally_line(relation)}")
        if existence:
            print(f"  existence questions: {tally_line(existence)}")

    drawn = by_task.get("t2i", [])
    if drawn:
        by_category = collections.defaultdict(collections.Counter)
        position = collections.Counter()
        for s in drawn:
            by_category[s["kind"]]["right" if s["correct"] else s["failure"]] += 1
            if s["kind"] == "position" and s.get("failure") == "position":
                # The reader's sizes are not what position is scored on.
                position[relation_outcome(s["input"], s["output"], ignore_size=True)] += 1
        for category, counter in sorted(by_category.items()):
            print(f"text-to-image {category}: {tally_line(counter)}")
        if position:
            print(f"  position failures: {tally_line(position)}")

    episodes = by_task.get("actions", [])
    if episodes:
        kinds = collections.defaultdict(lambda: [0, 0])
        for s in episodes:
            words = s["input"].split()
            kind = next((r for r in RELATIONS if f" {r} the " in s["input"]), None) if words[0] == "put" else "to a corner"
            kinds[kind or "other"][0] += s["correct"]
            kinds[kind or "other"][1] += 1
        print("actions success by instruction: " + ", ".join(f"{k} {r}/{n}" for k, (r, n) in sorted(kinds.items())))

    clips = by_task.get("video", [])
    if clips:
        frames = len(clips[0]["withinTolerance"])
        means = [sum(c["withinTolerance"][k] for c in clips) / len(clips) for k in range(frames)]
        print(f"video, mean share within 4 px by frame ({len(clips)} clips): " + " ".join(f"{m:.2f}" for m in means))
    print()


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    by_model = collections.defaultdict(list)
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    sample = json.loads(line)
                except json.JSONDecodeError as error:
                    print(f"{path}:{number}: not a JSON line ({error})", file=sys.stderr)
                    return 1
                by_model[sample.get("model") or path].append(sample)
    for model, samples in by_model.items():
        report(model, samples)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
