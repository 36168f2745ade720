"""The event rule replayed: the app's EventTracker with other settings, over runs that long_stream kept.

    python -m benchmarks.long_stream --triples --methods default --keep runs/tuning > tuning.json
    python -m benchmarks.long_stream --methods default --pairs "a:b,b:c,...,z:a" --keep runs/loops > loops.json
    python -m benchmarks.long_stream --changes --methods default --keep runs/changes > changes.json
    python -m benchmarks.event_rule --triples runs/tuning --loops runs/loops --changes runs/changes > rules.json
    python -m benchmarks.event_rule --markdown rules.json
    python -m benchmarks.long_stream --clips shared --perturb all --methods default --keep runs/perturb > perturb.json
    python -m benchmarks.event_rule --triples runs/tuning --perturb runs/perturb --holds 0,0.3 > holds.json

Every kept run (`<video>.<method>.jsonl`: each classified frame's timestamp and top labels) is fed to
`EventTracker` once per rule, so a rule costs no model run. Per rule:

* triples (A, B, A; `--event B`): right as long_stream counts it (one event of B, starting 0-2 s after B is first
  top-1, ending 0-4 s after B's last frame); each wrong one by its first fault: none, split, late or early start,
  late or early end. Also how long after B is first top-1 the event is announced (its START is returned), and
  the false events with `any` watched (of labels neither A nor B: the switches are where wrong labels show), and
  how long after B's part its last event ends.
* loops (the first action of each long pair: one clip looped for minutes): false events, every other clip's label
  watched, and with `any` watched (any other label: the worst case of a user's choice); and the clip's own
  events with its own label watched: how many (1 is right) and the share of the minutes they cover (1.0).
* changes (media/changes/, or the takes of another SEGMENTS.tsv): events with every label of the sets and of the
  video watched, and with `any`; an event is right when a segment of its label overlaps it, merged when it
  overlaps two, and how long after the segment it ends.
* perturbations (long_stream --perturb: each clip looped, changed from 60 s on): the clip's own events with its
  label watched, and whether one ended within 30 s after the change or there were more than one (split).

--holds adds, to each rule, an event that lasts while its action is top-1 at the hold (EventTracker's `hold`).
--margins adds, to each rule, a top-1 that leads the second by the margin counting as at the threshold
(EventTracker's `margin`): python -m benchmarks.event_rule --triples runs/tuning --loops runs/loops --margins 0.2,0.3

--watch LABELS names the actions watched instead of the loops' clips: on each loop all but its own, on each triple
all but A and B (their events are the triples' false events with named actions watched), on the changes videos all.
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import json
import operator
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.long_stream import (  # noqa: E402
    EVENT_END_WITHIN,
    EVENT_START_WITHIN,
    FPS,
    PERTURB_AT,
    SECOND_SECONDS,
    SHORT_SECONDS,
    ends_near,
    triple_metrics,
)
from benchmarks.paths import MEDIA  # noqa: E402
from utils.config import ANY  # noqa: E402
from utils.events import END, START, EventTracker  # noqa: E402
from utils.results import Prediction  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
DEFAULT_RULE = {"threshold": 0.6, "min_seconds": 1.0, "end_seconds": 2.0}


@dataclass(frozen=True)
class Result:
    """One classified frame of a kept run."""

    frame: int
    timestamp: float
    predictions: tuple[Prediction, ...]


@dataclass(frozen=True)
class Replayed:
    """An event of a replay: its label, start and end (stream seconds) and when its START was returned."""

    label: str
    start: float
    end: float
    announced: float


def read_run(path: Path) -> list[Result]:
    """A kept run: classify.py --json lines."""
    results = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        results.append(Result(record["frame"], record["timestamp"],
                              tuple(Prediction(r["label"], r["score"]) for r in record["results"])))
    return results


def replay(results: Sequence[Result], watched: Iterable[str], rule: dict) -> list[Replayed]:
    """The events EventTracker(watched, **rule) gives on these results, the stream ending after the last."""
    tracker = EventTracker(list(watched), **rule)
    announced: dict[str, float] = {}
    events: list[Replayed] = []

    def take(changes, timestamp: float) -> None:
        for change in changes:
            if change.kind == START:
                announced[change.event.id] = timestamp
            elif change.kind == END:
                e = change.event
                events.append(Replayed(e.label, e.start, e.end, announced[e.id]))

    for r in results:
        take(tracker.update(r.frame, r.timestamp, r.predictions, T0 + timedelta(seconds=r.timestamp)), r.timestamp)
    take(tracker.finish(), results[-1].timestamp if results else 0.0)
    return events


def kept_runs(folder: Path) -> dict[tuple[str, ...], Path]:
    """`<a>-<b>[-<a>].<method>.jsonl` by its labels (Kinetics labels have no '-')."""
    return {tuple(path.name.split(".")[0].split("-")): path for path in sorted(folder.glob("*.jsonl"))}


def triple_fault(results: Sequence[Result], events: Sequence[Replayed], first: str, second: str) -> str | None:
    """None when long_stream counts the triple's event right, else the first thing wrong with it."""
    part = SHORT_SECONDS * FPS
    tops = [r.predictions[0].label for r in results]
    ours = [e for e in events if e.label == second]
    if triple_metrics(tops, [{"label": e.label, "start": e.start, "end": e.end} for e in ours],
                      first, second, part)["event_ok"]:
        return None
    hits = [i for i in range(part, 2 * part) if tops[i] == second]
    if not ours or not hits:
        return "none"
    if len(ours) > 1:
        return "split"
    (event,) = ours
    late = event.start - hits[0] / FPS
    if late > EVENT_START_WITHIN:
        return "late start"
    if late < 0:
        return "early start"
    return "late end" if event.end - (2 * part - 1) / FPS > EVENT_END_WITHIN else "early end"


def measure_triples(folder: Path, rule: dict, watch: Sequence[str] = ()) -> dict:
    """Per triple: its fault (None: right), the seconds from B first top-1 to the announced start, and the false
    events with `any` watched (and with the `watch` labels but A and B)."""
    part = SHORT_SECONDS * FPS
    out = {}
    for labels, path in kept_runs(folder).items():
        first, second, _ = labels
        results = read_run(path)
        events = replay(results, [second], rule)
        hit = next((results[i].timestamp for i in range(part, 2 * part)
                    if results[i].predictions[0].label == second), None)
        ours = [e for e in events if e.label == second]
        out[f"{first}:{second}"] = {
            "fault": triple_fault(results, events, first, second),
            "announced_after": round(ours[0].announced - hit, 2) if ours and hit is not None else None,
            "events": [[e.label, e.start, e.end] for e in ours],
            "b_top1": [hit, results[2 * part - 1].timestamp] if hit is not None else None,
            "ended_after": round(ours[-1].end - (2 * part - 1) / FPS, 2) if ours else None,
            "false_any": [[e.label, e.start, e.end] for e in replay(results, [ANY], rule)
                          if e.label not in (first, second)]}
        if watch:
            out[f"{first}:{second}"]["false_named"] = [
                [e.label, e.start, e.end]
                for e in replay(results, [label for label in watch if label not in (first, second)], rule)]
    return out


def measure_loops(folder: Path, rule: dict, watch: Sequence[str] = ()) -> dict:
    """Per clip looped alone (a long pair's first part): false events with the other clips' labels (or the `watch`
    labels) watched, and its own events with its own label watched."""
    runs = kept_runs(folder)
    labels = list(watch) or sorted(first for first, _ in runs)
    out = {}
    for (first, _), path in runs.items():
        results = read_run(path)[:-SECOND_SECONDS * FPS]  # the pair's second action left out
        others = replay(results, [label for label in labels if label != first], rule)
        any_label = [e for e in replay(results, [ANY], rule) if e.label != first]
        own = replay(results, [first], rule)
        out[first] = {"seconds": round(len(results) / FPS, 1),
                      "false": [[e.label, e.start, e.end] for e in others],
                      "false_any": [[e.label, e.start, e.end] for e in any_label],
                      "own": len(own), "own_covered": round(sum(e.end - e.start for e in own) * FPS / len(results), 4)}
    return out


def measure_changes(folder: Path, rule: dict, labels: Iterable[str],
                    segments_file: Path = MEDIA / "changes" / "SEGMENTS.tsv") -> dict:
    """Per video of media/changes/ (or of `segments_file`): its events with the sets' labels and its own watched,
    each marked right when a segment of its label overlaps it."""
    with open(segments_file, newline="") as f:
        segments = list(csv.DictReader(f, delimiter="\t"))
    out = {}
    for path in sorted(folder.glob("*.jsonl")):
        name = path.name.split(".")[0] + ".mp4"
        own = [(s["kinetics600_label"], float(s["start_s"]), float(s["end_s"]))
               for s in segments if s["file"] == name and not s["kinetics600_label"].startswith("other")]
        results = read_run(path)
        watched = sorted({*labels, *(label for label, _, _ in own)})
        out[name] = {"watched": marked(replay(results, watched, rule), own),
                     "any": marked(replay(results, [ANY], rule), own)}
    return out


def marked(events: Sequence[Replayed], segments: Sequence[tuple[str, float, float]]) -> list:
    """[label, start, end, right, segments, ended_after]: right when a segment of the event's label overlaps it;
    how many such segments it overlaps (2 or more: merged), and how long after the last of them it ends."""
    out = []
    for e in events:
        ends = [end for label, start, end in segments if label == e.label and start < e.end and e.start < end]
        out.append([e.label, e.start, e.end, bool(ends), len(ends), round(e.end - max(ends), 2) if ends else None])
    return out


def measure_perturb(folder: Path, rule: dict) -> dict:
    """Per kept run of long_stream --perturb (`<label>.<perturbation>.default.jsonl`: its clip looped, changed
    from PERTURB_AT s on): its own events with its label watched, and whether one ended within SHARE_SECONDS
    after the change (not at the stream's end) or the run has more than one (split)."""
    out: dict = {}
    for path in sorted(folder.glob("*.default.jsonl")):
        label, kind = path.name.removesuffix(".default.jsonl").rsplit(".", 1)
        results = read_run(path)
        own = replay(results, [label], rule)
        stream_end = len(results) / FPS
        out.setdefault(label, {})[kind] = {
            "events": [[e.start, e.end] for e in own],
            "ended_near": any(ends_near(e.end, PERTURB_AT, stream_end) for e in own),
            "split": len(own) > 1}
    return out


def summarise(report: dict) -> dict:
    """A rule's counts: triples right and faults, the announcement delay, false and own events."""
    summary: dict = {}
    if triples := report.get("triples"):
        faults = [t["fault"] for t in triples.values()]
        after = [t["announced_after"] for t in triples.values() if t["announced_after"] is not None]
        summary.update({"triples": len(faults), "right": faults.count(None),
                        "faults": {f: faults.count(f) for f in sorted({f for f in faults if f})},
                        "false_any_triples": sum(len(t["false_any"]) for t in triples.values()),
                        "false_named_triples": sum(len(t.get("false_named", ())) for t in triples.values()),
                        "announced_after_median": statistics.median(after) if after else None,
                        "announced_after_max": max(after) if after else None,
                        "ended_after_max": max((t["ended_after"] for t in triples.values()
                                                if t["ended_after"] is not None), default=None)})
    if loops := report.get("loops"):
        summary.update({"loop_minutes": round(sum(c["seconds"] for c in loops.values()) / 60, 1),
                        "false_events": sum(len(c["false"]) for c in loops.values()),
                        "false_by_clip": {k: len(c["false"]) for k, c in loops.items() if c["false"]},
                        "false_any": sum(len(c["false_any"]) for c in loops.values()),
                        "own_events": sum(c["own"] for c in loops.values()),
                        "own_covered_min": min(c["own_covered"] for c in loops.values()),
                        "own_covered_mean": round(statistics.mean(c["own_covered"] for c in loops.values()), 4)})
    if perturbed := report.get("perturb"):
        kinds = sorted({kind for runs in perturbed.values() for kind in runs})
        summary["perturb"] = {kind: {
            "runs": sum(kind in runs for runs in perturbed.values()),
            "ended_or_split": sorted(label for label, runs in perturbed.items()
                                     if kind in runs and (runs[kind]["ended_near"] or runs[kind]["split"])),
            "without_event": sorted(label for label, runs in perturbed.items()
                                    if kind in runs and not runs[kind]["events"])} for kind in kinds}
    if changes := report.get("changes"):
        for kind in ("watched", "any"):
            events = [e for video in changes.values() for e in video[kind]]
            summary[f"changes_{kind}"] = [sum(e[3] for e in events), sum(not e[3] for e in events)]
            summary[f"changes_{kind}_merged"] = sum(e[4] > 1 for e in events)
            summary[f"changes_{kind}_ended_after_max"] = max((e[5] for e in events if e[3]), default=None)
    return summary


def measure(rule: dict, triples: Path | None, loops: Path | None, changes: Path | None,
            labels: Iterable[str] = (), watch: Sequence[str] = (),
            segments_file: Path = MEDIA / "changes" / "SEGMENTS.tsv", perturbed: Path | None = None) -> dict:
    """One rule over the kept runs given."""
    report: dict = {"rule": rule}
    if perturbed:
        report["perturb"] = measure_perturb(perturbed, rule)
    if triples:
        report["triples"] = measure_triples(triples, rule, watch)
    if loops:
        report["loops"] = measure_loops(loops, rule, watch)
    if changes:
        report["changes"] = measure_changes(changes, rule, labels, segments_file)
    report["summary"] = summarise(report)
    return report


def rule_name(rule: dict) -> str:
    """threshold 0.5, 1 s, 2 s end (+ floor 0.3 for 2 s)."""
    name = f"threshold {rule['threshold']:g}, {rule['min_seconds']:g} s, {rule['end_seconds']:g} s end"
    name += f", floor {rule['floor']:g} for {rule['floor_seconds']:g} s" if rule.get("floor") else ""
    name += f", margin {rule['margin']:g}" if rule.get("margin") is not None else ""
    return name + (f", hold {rule['hold']:g}" if rule.get("hold") is not None else "")


def grid(thresholds: Sequence[float], mins: Sequence[float], ends: Sequence[float],
         floors: Sequence[float], floor_seconds: Sequence[float], holds: Sequence[float] = (),
         margins: Sequence[float] = ()) -> list[dict]:
    """Every combination; floors, margins and holds only below the threshold."""
    rules = [{"threshold": t, "min_seconds": m, "end_seconds": e}
             for t, m, e in itertools.product(thresholds, mins, ends)]
    rules += [{"threshold": t, "min_seconds": m, "end_seconds": e, "floor": f, "floor_seconds": s}
              for t, m, e, f, s in itertools.product(thresholds, mins, ends, floors, floor_seconds) if f < t]
    rules += [{**rule, "margin": g} for rule in rules for g in margins if g < rule["threshold"]]
    return rules + [{**rule, "hold": h} for rule in rules for h in holds if h < rule.get("floor", rule["threshold"])]


def markdown(report: dict) -> str:
    """Each rule's summary as a Markdown table row."""
    lines = ["| rule | triples right | faults | announced after B top-1: median / max (s) | false events "
             "(minutes): loops, others watched / loops, any / triples, any | own events: count, covered min / mean | "
             "changes, right / false: watched, any |", "|---|---|---|---|---|---|---|"]
    for run in report["rules"]:
        s = run["summary"]

        def changes(kind: str, s=s) -> str:
            return " / ".join(map(str, s[f"changes_{kind}"])) if f"changes_{kind}" in s else "-"
        faults = ", ".join(f"{k} {v}" for k, v in s.get("faults", {}).items()) or "none"
        lines.append(f"| {rule_name(run['rule'])} | {s.get('right')}/{s.get('triples')} | {faults} | "
                     f"{s.get('announced_after_median')} / {s.get('announced_after_max')} | "
                     f"{s.get('false_events')} / {s.get('false_any')} ({s.get('loop_minutes')}) / "
                     f"{s.get('false_any_triples')} ({s.get('triples', 0)}) | "
                     f"{s.get('own_events')}, {s.get('own_covered_min')} / {s.get('own_covered_mean')} | "
                     f"{changes('watched')}; {changes('any')} |")
    return "\n".join(lines)


def counts(run: dict, clips: Callable[[str], bool] = lambda clip: True) -> tuple[int, int, float, float]:
    """Triples right, false events and the median and longest announce delay, over the triples and loops whose
    clips all pass `clips` (a false event's label is a clip too, when the other clips are watched). False events:
    on the loops with the other clips watched and with any, and on the triples with any."""
    triples = [t for key, t in run["triples"].items() if all(map(clips, key.split(":")))]
    loops = {clip: c for clip, c in run["loops"].items() if clips(clip)}
    false = (sum(clips(event[0]) for c in loops.values() for event in c["false"])
             + sum(len(c["false_any"]) for c in loops.values()) + sum(len(t["false_any"]) for t in triples))
    after = [t["announced_after"] for t in triples if t["announced_after"] is not None]
    return (sum(t["fault"] is None for t in triples), false, statistics.median(after) if after else float("inf"),
            max(after, default=float("inf")))


def choose(runs: Sequence[dict], clips: Callable[[str], bool] = lambda clip: True) -> dict:
    """The rule stated before judging: no more false events than the defaults; then the most triples right; then
    the lowest median, then longest, announce delay; then the fewest settings changed; then the closest to the
    defaults (a floor or a margin counts by its distance from the threshold: none is one at the threshold)."""
    default = next(run for run in runs if run["rule"] == DEFAULT_RULE)
    most_false = counts(default, clips)[1]

    def key(run: dict) -> tuple:
        rule = run["rule"]
        right, _, median_after, max_after = counts(run, clips)
        changed = sum(rule.get(k) != v for k, v in DEFAULT_RULE.items()) + ("floor" in rule) + ("margin" in rule)
        distance = sum(abs(rule[k] - v) for k, v in DEFAULT_RULE.items())
        distance += sum(rule["threshold"] - rule.get(k, rule["threshold"]) for k in ("floor", "margin"))
        return -right, median_after, max_after, changed, distance

    return min((run for run in runs if counts(run, clips)[1] <= most_false), key=key)


def held_out(run: dict, clip: str) -> dict:
    """A rule's figures on what a fold held out: the triples with `clip`, its loop, and its label's false events
    on the other loops."""
    triples = [t for key, t in run["triples"].items() if clip in key.split(":")]
    false = ([e for other, loop in run["loops"].items() for e in loop["false"] if clip in (other, e[0])]
             + run["loops"][clip]["false_any"] + [e for t in triples for e in t["false_any"]])
    return {"right": sum(t["fault"] is None for t in triples), "triples": len(triples), "false_events": len(false)}


def leave_one_clip_out(runs: Sequence[dict]) -> list[dict]:
    """Per clip: the rule chosen on the other clips' triples and loops, and it and the defaults on the triples
    and loops with that clip."""
    default = next(run for run in runs if run["rule"] == DEFAULT_RULE)
    folds = []
    for clip in sorted(runs[0]["loops"]):
        chosen = choose(runs, functools.partial(operator.ne, clip))
        folds.append({"clip": clip, "chosen": chosen["rule"], "held_out": held_out(chosen, clip),
                      "default": held_out(default, clip)})
    return folds


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--triples", type=Path, metavar="DIR", help="kept runs of long_stream --triples")
    parser.add_argument("--loops", type=Path, metavar="DIR", help="kept runs of long_stream's long pairs")
    parser.add_argument("--changes", type=Path, metavar="DIR", help="kept runs of long_stream --changes")
    parser.add_argument("--watch-also", default="", metavar="LABELS",
                        help="comma-separated labels watched on the changes videos besides the loops' and their own")
    parser.add_argument("--watch", default="", metavar="LABELS",
                        help="comma-separated named actions watched (instead of the loops' clips): all but the "
                             "loop's own, all but a triple's A and B, all on the changes videos")
    parser.add_argument("--segments", type=Path, default=MEDIA / "changes" / "SEGMENTS.tsv", metavar="FILE",
                        help="the segments of the --changes videos")
    parser.add_argument("--thresholds", type=floats, default=[0.6])
    parser.add_argument("--min-seconds", type=floats, default=[1.0])
    parser.add_argument("--end-seconds", type=floats, default=[2.0])
    parser.add_argument("--floors", type=floats, default=[], help="EventTracker's floor (none: no floor rule)")
    parser.add_argument("--floor-seconds", type=floats, default=[2.0])
    parser.add_argument("--holds", type=floats, default=[],
                        help="EventTracker's hold (none: no hold rule; 0: top-1 at any score), with each rule above")
    parser.add_argument("--margins", type=floats, default=[],
                        help="EventTracker's margin (none: no margin rule: the top-1's lead over the second that "
                             "counts as at the threshold), with each rule above")
    parser.add_argument("--perturb", type=Path, metavar="DIR", help="kept runs of long_stream --perturb")
    parser.add_argument("--markdown", type=Path, metavar="REPORT", help="measure nothing: print a saved report")
    parser.add_argument("--choose", type=Path, nargs="+", metavar="REPORT",
                        help="measure nothing: the rule chosen on saved reports of one set, and leave-one-clip-out")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    if args.choose:
        runs = [run for path in args.choose for run in json.loads(path.read_text())["rules"]]
        chosen = choose(runs)
        print(json.dumps({"chosen": chosen["rule"], "summary": chosen["summary"],
                          "leave_one_clip_out": leave_one_clip_out(runs)}, indent=1))
        return
    for folder in (args.triples, args.loops, args.changes, args.perturb):
        if folder is not None and not folder.is_dir():
            parser.error(f"{folder} is not a directory")
    watch = [label for label in args.watch.split(",") if label]
    labels = watch or sorted({first for first, _ in kept_runs(args.loops)} if args.loops else set())
    labels += [label for label in args.watch_also.split(",") if label]
    rules = grid(args.thresholds, args.min_seconds, args.end_seconds, args.floors, args.floor_seconds, args.holds,
                 args.margins)
    print(json.dumps({"rules": [measure(rule, args.triples, args.loops, args.changes, labels, watch, args.segments,
                                        args.perturb) for rule in rules]}, indent=1))


if __name__ == "__main__":
    main()
