#!/usr/bin/env python3
"""Markdown table of an `emu eval --json` report against the issue's targets, with 95% Wilson
score intervals (the sample sizes are small: an interval says how much a number can be trusted).

usage: emu eval --samples 50 --json > eval.json && python3 scripts/results-table.py eval.json
       emu eval --samples 50 --compare DIR --json > compare.json && python3 scripts/results-table.py compare.json
       (with --compare: the unified model beside each task's specialist, and the gap to the issue's
       "within 5 points" criterion)
Standard library only.
"""
import json
import math
import sys


def wilson(p, n, z=1.96):
    if n == 0:
        return (0.0, 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def row(name, p, n, target=""):
    lo, hi = wilson(p, n)
    return f"| {name} | {p:.2f} | {lo:.2f}-{hi:.2f} | {n} | {target} |"


def main(path):
    r = json.load(open(path))
    lines = ["| metric | value | 95% interval | n | target |", "|---|---|---|---|---|"]
    t = r.get("text_to_image")
    if t:
        per = t["promptCount"] // max(len(t["accuracy"]), 1)
        targets = {"single_object": ">= 0.90", "two_objects": ">= 0.70", "position": ">= 0.70"}
        for key in ["single_object", "two_objects", "position", "counting", "colors"]:
            if key in t["accuracy"]:
                lines.append(row(f"text-to-image {key.replace('_', ' ')} (cfg {r['cfg']})", t["accuracy"][key], per, targets.get(key, "")))
        c = r.get("codec_ceiling")
        if c:
            lines.append(row(f"  codec ceiling: true scenes coded and decoded, overall", c["overall"], c["promptCount"]))
    u = r.get("understanding")
    if u:
        n = u["samples"]
        lines.append(row("understanding exact match (captions + questions)", u["exactMatch"], 2 * n, ">= 0.90"))
        lines.append(row("  captions exact", u["captionExactMatch"], n))
        lines.append(row("  questions exact", u["questionExactMatch"], n))
        lines.append(row("  caption attributes", u["captionAttributeAccuracy"], n))
        lines.append(row("  question attributes", u["questionAttributeAccuracy"], n))
    v = r.get("video")
    if v:
        objects = v["score"]["objectCount"] // max(v["predictedFrames"], 1)
        for k, share in enumerate(v["shareWithinToleranceByFrame"]):
            target = ">= 0.80" if k == v["predictedFrames"] - 1 else ""
            lines.append(row(f"video: objects within 4 px, predicted frame {k + 1} (mean error {v['meanErrorByFrame'][k]:.1f} px)", share, objects, target))
    a = r.get("actions")
    if a:
        lines.append(row(f"actions: closed-loop success (mean steps {a['meanSteps']:.1f})", a["successRate"], a["episodes"], ">= 0.80"))
    e = r.get("actions_on_expert_states")
    if e:
        # Decisions are not independent within an episode, so these intervals are optimistic.
        lines.append(row("  actions on the expert's states (all decisions)", e["accuracy"], e["states"]))
        for key in ["approach", "grasp", "carry", "release", "stop"]:
            if key in e["byDecision"]:
                lines.append(row(f"    {key}", e["byDecision"][key], e["statesByDecision"][key]))
    print("\n".join(lines))


def interval(p, n):
    lo, hi = wilson(p, n)
    return f"{p:.2f} ({lo:.2f}-{hi:.2f})"


def compared_metrics(r):
    """(task, metric, value, n) for the headline numbers of one report; the specialist of `task`
    is compared on them."""
    out = []
    t = r.get("text_to_image")
    if t:
        per = t["promptCount"] // max(len(t["accuracy"]), 1)
        out.append(("t2i", f"text-to-image overall (cfg {r['cfg']})", t["overall"], t["promptCount"]))
        out.append(("t2i", "text-to-image single object", t["accuracy"]["single_object"], per))
        out.append(("t2i", "text-to-image two objects", t["accuracy"]["two_objects"], per))
    u = r.get("understanding")
    if u:
        n = u["samples"]
        out.append(("understanding", "understanding exact (captions + questions)", u["exactMatch"], 2 * n))
        out.append(("understanding", "  captions exact", u["captionExactMatch"], n))
        out.append(("understanding", "  questions exact", u["questionExactMatch"], n))
        out.append(("understanding", "  caption attributes", u["captionAttributeAccuracy"], n))
    v = r.get("video")
    if v:
        objects = v["score"]["objectCount"] // max(v["predictedFrames"], 1)
        for k, share in enumerate(v["shareWithinToleranceByFrame"]):
            out.append(("video", f"video within 4 px, frame {k + 1}", share, objects))
    a = r.get("actions")
    if a:
        out.append(("actions", "actions closed-loop success", a["successRate"], a["episodes"]))
    e = r.get("actions_on_expert_states")
    if e:
        out.append(("actions", "actions on the expert's states", e["accuracy"], e["states"]))
        for key in ["approach", "grasp", "carry", "release", "stop"]:
            if key in e["byDecision"]:
                out.append(("actions", f"  {key}", e["byDecision"][key], e["statesByDecision"][key]))
    return out


def compare(r):
    specialists = {task: compared_metrics(report) for task, report in r["specialists"].items()}
    lines = ["| metric | unified (95% interval) | specialist (95% interval) | unified - specialist |",
             "|---|---|---|---|"]
    for task, name, p, n in compared_metrics(r):
        match = [m for m in specialists.get(task, []) if m[1] == name]
        if not match:
            continue
        q, m = match[0][2], match[0][3]
        lines.append(f"| {name} | {interval(p, n)} | {interval(q, m)} | {100 * (p - q):+.0f} points |")
    print("\n".join(lines))


if __name__ == "__main__":
    report = json.load(open(sys.argv[1]))
    if "specialists" in report:
        compare(report)
    else:
        main(sys.argv[1])
