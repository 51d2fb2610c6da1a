#!/usr/bin/env python3
"""Markdown table of an `emu eval --json` report against the issue's targets, with 95% Wilson
score intervals (the sample sizes are small: an interval says how much a number can be trusted).

usage: emu eval --samples 50 --json > eval.json && python3 scripts/results-table.py eval.json
       emu eval --samples 50 --compare DIR --json > compare.json && python3 scripts/results-table.py compare.json
       (with --compare: the unified model beside each task's specialist, and the gap to the issue's
       "within 5 points" criterion)
       python3 scripts/results-table.py seed0=eval0.json seed1=eval1.json ...
       (several reports, one per training seed: each seed's value, the mean and the range, which is
       the run-to-run spread; a label before "=" names the column, else the file name does; when
       all are --compare reports, the specialists' spread and the unified model's lead over its
       specialist on every seed follow)
A single report also gets its text-to-image prompts by outcome: right, or the first check that
the picture fails (object count, shape, colour, size, position).
Standard library only.
"""
import json
import math
import sys
from collections import namedtuple

# One proportion of a report. `task` names the specialist it is compared with (None: not
# compared); `note` adds context to the name in the single-report table only, so names match
# across models.
Metric = namedtuple("Metric", "task name share n target note")


def wilson(p, n, z=1.96):
    if n == 0:
        return (0.0, 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def interval(p, n):
    lo, hi = wilson(p, n)
    return f"{p:.2f} ({lo:.2f}-{hi:.2f})"


def metrics(r):
    """Every proportion in one report, as `Metric`s."""
    out = []
    t = r.get("text_to_image")
    if t:
        per = t["promptCount"] // max(len(t["accuracy"]), 1)
        targets = {"single_object": ">= 0.90", "two_objects": ">= 0.70", "position": ">= 0.70"}
        out.append(("t2i", f"text-to-image overall (cfg {r['cfg']})", t["overall"], t["promptCount"], "", ""))
        for key in ["single_object", "two_objects", "position", "counting", "colors"]:
            if key in t["accuracy"]:
                out.append(("t2i", f"text-to-image {key.replace('_', ' ')} (cfg {r['cfg']})", t["accuracy"][key], per,
                            targets.get(key, ""), ""))
        c = r.get("codec_ceiling")
        if c:
            out.append((None, "  codec ceiling: true scenes coded and decoded, overall", c["overall"], c["promptCount"], "", ""))
    u = r.get("understanding")
    if u:
        n = u["samples"]
        out.append(("understanding", "understanding exact match (captions + questions)", u["exactMatch"], 2 * n, ">= 0.90", ""))
        out.append(("understanding", "  captions exact", u["captionExactMatch"], n, "", ""))
        out.append(("understanding", "  questions exact", u["questionExactMatch"], n, "", ""))
        out.append(("understanding", "  caption attributes", u["captionAttributeAccuracy"], n, "", ""))
        out.append(("understanding", "  question attributes", u["questionAttributeAccuracy"], n, "", ""))
        for kind, tally in sorted(u.get("questions_by_kind", {}).items()):
            if tally["asked"]:
                out.append(("understanding", f"    questions: {kind}", tally["right"] / tally["asked"], tally["asked"], "", ""))
    v = r.get("video")
    if v:
        objects = v["score"]["objectCount"] // max(v["predictedFrames"], 1)
        for k, share in enumerate(v["shareWithinToleranceByFrame"]):
            target = ">= 0.80" if k == v["predictedFrames"] - 1 else ""
            out.append(("video", f"video: objects within 4 px, predicted frame {k + 1}", share, objects, target,
                        f" (mean error {v['meanErrorByFrame'][k]:.1f} px)"))
        # With --teacher-forced: each frame from the true frames before it (errors cannot compound).
        for k, share in enumerate(v.get("teacherForcedShareByFrame") or []):
            out.append(("video", f"  teacher-forced, predicted frame {k + 1}", share, objects, "",
                        f" (mean error {v['teacherForcedMeanErrorByFrame'][k]:.1f} px)"))
        # References without a model (reports from before stop 25 lack them).
        for key, label in [("stillFrameShareByFrame", "last given frame's codes repeated"),
                           ("codecCeilingShareByFrame", "true frames' codes (codec ceiling)")]:
            shares = v.get(key) or []
            for k in sorted({0, len(shares) - 1}) if shares else []:
                out.append((None, f"  reference: {label}, frame {k + 1}", shares[k], objects, "", ""))
    a = r.get("actions")
    if a:
        out.append(("actions", "actions: closed-loop success", a["successRate"], a["episodes"], ">= 0.80",
                    f" (mean steps {a['meanSteps']:.1f})"))
    e = r.get("actions_on_expert_states")
    if e:
        # Decisions are not independent within an episode, so these intervals are optimistic.
        out.append(("actions", "  actions on the expert's states (all decisions)", e["accuracy"], e["states"], "", ""))
        for key in ["approach", "grasp", "carry", "release", "stop"]:
            if key in e["byDecision"]:
                out.append(("actions", f"    {key}", e["byDecision"][key], e["statesByDecision"][key], "", ""))
    return [Metric(*m) for m in out]


def by_name(r):
    return {m.name: m for m in metrics(r)}


def main(r):
    lines = ["| metric | value | 95% interval | n | target |", "|---|---|---|---|---|"]
    for _, name, p, n, target, note in metrics(r):
        lo, hi = wilson(p, n)
        lines.append(f"| {name}{note} | {p:.2f} | {lo:.2f}-{hi:.2f} | {n} | {target} |")
    print("\n".join(lines))
    failures(r)


FAILURES = ["too_few_objects", "too_many_objects", "shape", "color", "size", "position"]


def failures(r):
    """Text-to-image prompts by outcome: right, or the first check the picture fails (reports from
    before the failure tally have none, and print nothing)."""
    t = r.get("text_to_image")
    if not t or "failures" not in t:
        return
    per = t["promptCount"] // max(len(t["accuracy"]), 1)
    lines = ["", f"text-to-image prompts by outcome (cfg {r['cfg']}, {per} per category):", "",
             "| category | right | " + " | ".join(f.replace("_", " ") for f in FAILURES) + " |",
             "|---|" + "---|" * (len(FAILURES) + 1)]
    for key in ["single_object", "two_objects", "position", "counting", "colors"]:
        if key in t["accuracy"]:
            tally = t["failures"].get(key, {})
            cells = " | ".join(str(tally.get(f, 0)) for f in FAILURES)
            lines.append(f"| {key.replace('_', ' ')} | {round(t['accuracy'][key] * per)} | {cells} |")
    print("\n".join(lines))


def specialist_metrics(r):
    """The metrics of a --compare report's specialists, each on its own task, by name."""
    specialists = {task: by_name(report) for task, report in r["specialists"].items()}
    return {m.name: specialists[m.task][m.name] for m in metrics(r)
            if m.task in specialists and m.name in specialists[m.task]}


def compare(r):
    specialists = specialist_metrics(r)
    lines = ["| metric | unified (95% interval) | specialist (95% interval) | unified - specialist |",
             "|---|---|---|---|"]
    for _, name, p, n, _, _ in metrics(r):
        match = specialists.get(name)
        if match:
            lines.append(f"| {name} | {interval(p, n)} | {interval(match.share, match.n)} | {100 * (p - match.share):+.0f} points |")
    print("\n".join(lines))


def seeds(labelled):
    """One column per report; rows are the metrics every report has, in the first report's order.
    When every report is a --compare report, two more tables follow: the specialists' values and
    the unified model's lead over its specialist (in points) on every seed."""
    unified = [(label, by_name(r)) for label, r in labelled]
    rows = [(m.name, m.n, m.target) for m in metrics(labelled[0][1])]
    print(spread_table(unified, rows))
    if all("specialists" in r for _, r in labelled):
        specialists = [(label, specialist_metrics(r)) for label, r in labelled]
        print("\nSpecialists:\n")
        print(spread_table(specialists, rows))
        gaps = [(label, {name: m._replace(share=100 * (u[name].share - m.share)) for name, m in s.items() if name in u})
                for (label, u), (_, s) in zip(unified, specialists)]
        print("\nUnified - specialist, in points (the issue asks for -5 or more):\n")
        print(spread_table(gaps, rows, points=True))


def spread_table(columns, rows, points=False):
    """Rows that every column has: each column's value, the mean and the range."""
    last = "" if points else " target |"
    lines = ["| metric | " + " | ".join(label for label, _ in columns) + " | mean | range |" + last,
             "|---|" + "---|" * (len(columns) + (2 if points else 3))]
    for name, n, target in rows:
        if not all(name in named for _, named in columns):
            continue
        values = [named[name].share for _, named in columns]
        # Over 200+ samples one sample is under half a point, so a third decimal still means something.
        digits = 3 if n >= 200 else 2

        def form(v):
            # Points are whole (an integer has no "-0"); proportions keep their digits.
            return f"{round(v):+d}" if points else f"{v:.{digits}f}"
        mean = sum(values) / len(values)
        dash = " to " if points else "-"
        cells = " | ".join(form(v) for v in values)
        lines.append(f"| {name} | {cells} | {form(mean)} | {form(min(values))}{dash}{form(max(values))} |" + ("" if points else f" {target} |"))
    return "\n".join(lines)


def labelled_report(argument):
    label, _, path = argument.rpartition("=")
    return (label or path.rsplit("/", 1)[-1].removesuffix(".json"), json.load(open(path)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    reports = [labelled_report(a) for a in sys.argv[1:]]
    if len(reports) > 1:
        seeds(reports)
    elif "specialists" in reports[0][1]:
        compare(reports[0][1])
    else:
        main(reports[0][1])
