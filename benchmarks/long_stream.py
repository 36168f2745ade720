"""How fast a new action takes over after minutes of another one: every ordered pair of the shared clips.

    python -m benchmarks.long_stream                        # all 56 pairs, the app's defaults and --window 4 fixed
    python -m benchmarks.long_stream --pairs "carving ice:walking the dog" --methods default,unbounded
    python -m benchmarks.long_stream > pairs.json && python -m benchmarks.long_stream --markdown pairs.json
    python -m benchmarks.long_stream --clips val --triples  # 20 s of A, 20 s of B, 20 s of A, with --event B
    python -m benchmarks.long_stream --changes              # the real changes of action in media/changes/
    python -m benchmarks.long_stream --triples --keep runs/  # and each run's per-frame results, to replay events on
    python -m benchmarks.long_stream --clips shared,val --clip "squat=squats.mp4" --triples --pairs "squat:situp"
    python -m benchmarks.long_stream --changes --changes-dir takes/  # other videos with a SEGMENTS.tsv
    python -m benchmarks.long_stream --clips shared,val --perturb all --methods default  # light, a bumped camera

For each pair it writes a video at 5 fps (the first clip looped for --minutes, then the second for 30 s, MJPG as a
USB camera sends it) and runs `classify.py --video … --display none --json` on it with each method's flags. Per pair:
the classified frames until the second action is top-1 (the delay), the first action's top-1 share over its
minutes and on the frame before the switch, and the second's share from the delay on. Each clip is also classified
whole, once, from a fresh start: a pair counts towards the targets when both its clips are right on their own
with the model's unbounded memory (`--window 0`). Prints one JSON object; --markdown turns a saved one into the
README's tables.

--triples plays each ordered pair as short actions (A, B and A again, 20 s each) and reports the frames until B is
top-1 after its start and until A is top-1 again after B (each beside the fresh-start floor of that clip), and the
events of `--event B` on the same run. --clips val judges on the validation clips that the model classifies right
on their own (media/val/SOURCES.tsv). --changes reports, for each Kinetics segment of the videos in media/changes/,
when its action is first top-1, and the events of `--event` with those actions (--changes-dir: the videos and
SEGMENTS.tsv of another folder). --clip LABEL=FILE adds a clip of another action to the set; --pairs chooses the
triples too. --perturb loops each clip for 2 minutes, as it is and with each camera change of benchmarks/perturb.py
from 60 s on (a light change, a bumped camera, a frozen picture), with `--event` for its own action: the changes
of action the window finds within 20 s, the clip's top-1 share and score over the 30 s before and after, and its
events (classify.py --verbose logs each change).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import permutations
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import perturb  # noqa: E402
from benchmarks.paths import CLIPS, LABELS, MEDIA, MODEL  # noqa: E402
from utils.config import EventOptions  # noqa: E402
from utils.sources import sampled_frames  # noqa: E402

FPS = 5
SIZE = (172, 172)
SECOND_SECONDS = 30
SHORT_SECONDS = 20  # each part of a short triple
# An --event of a short action: its start this soon after the action is first top-1, its end this soon after the
# action's last top-1 frame (stream seconds).
EVENT_START_WITHIN, EVENT_END_WITHIN = 2.0, 4.0
EVENT_THRESHOLD = EventOptions().event_threshold  # --event's score to start an event (the default)
# The long-run targets: a switch within 3 s, the first action held on 95 % of its frames, the second on 90 %.
MAX_DELAY, FIRST_SHARE, SECOND_SHARE = 15, 0.95, 0.90
# --perturb: each clip looped for PERTURB_SECONDS, perturbed from PERTURB_AT s on; the changes of action counted
# within CHANGE_WITHIN s of it, the top-1 share over SHARE_SECONDS before and after it.
PERTURB_SECONDS, PERTURB_AT, CHANGE_WITHIN, SHARE_SECONDS = 120, 60, 20, 30
CHANGE_LOGGED = re.compile(r"a change of action after frame (\d+): the window restarts")
METHODS = {
    "default": [],                                     # the app's defaults
    "fixed-4s": ["--window", "4", "--fixed-window"],   # the default before the window restarted on a change
    "fixed-12s": ["--fixed-window"],                   # the default's length, never restarted
    "unbounded": ["--window", "0"],                    # the model's own memory, as the TF Lite example
    "fresh-start": ["--fresh-start"],                  # the defaults, and a fresh stream at a suspected change
    "event-floor": ["--event-floor", "0.2"],           # the defaults, and the events' floor (0.2 for 2 s)
}


def val_clips() -> dict[str, Path]:
    """The validation clips that the app classifies right on their own (media/val/SOURCES.tsv): judge on these."""
    with open(MEDIA / "val" / "SOURCES.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {row["label"]: MEDIA / "val" / row["file"] for row in rows if row["app_top1_last"] == row["label"]}


CLIP_SETS = {"shared": lambda: dict(CLIPS), "val": val_clips}


def clip_set(names: str, extra: Sequence[str] = ()) -> dict[str, Path]:
    """The clips of comma-separated CLIP_SETS names, and `LABEL=FILE` clips (a label given twice: the last)."""
    clips: dict[str, Path] = {}
    for name in names.split(","):
        if name not in CLIP_SETS:
            raise ValueError(f"--clips: unknown set {name!r}; choose from {', '.join(CLIP_SETS)}")
        clips.update(CLIP_SETS[name]())
    for item in extra:
        label, _, file = item.partition("=")
        if not label.strip() or "-" in label or not Path(file).is_file():
            raise ValueError(f"--clip: {item!r} is not LABEL=FILE of an existing file (a label without '-')")
        clips[label.strip()] = Path(file)
    return clips


def clip_frames(path: Path, change: Callable[[np.ndarray], np.ndarray] | None = None) -> list:
    """The clip's frames at 5 fps (by timestamp), resized to one common size; `change`: done to each frame at the
    clip's own size first (a bumped camera's crop: benchmarks/perturb.py)."""
    return [cv2.resize(change(frame.image) if change else frame.image, SIZE, interpolation=cv2.INTER_AREA)
            for frame in sampled_frames(path, FPS)]


def write_video(path: Path, parts: Sequence[tuple[list, float]]) -> None:
    """Each part's frames looped for its seconds, one after the other, at 5 fps (MJPG: quick to write and read)."""
    write_frames(path, (frames[i % len(frames)] for frames, seconds in parts for i in range(round(seconds * FPS))))


def write_frames(path: Path, frames: Iterable[np.ndarray]) -> None:
    """These frames at 5 fps, MJPG as a USB camera sends them."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    for frame in frames:
        writer.write(frame)
    writer.release()


def write_switch_video(path: Path, first: list, second: list, first_seconds: float, second_seconds: float) -> None:
    """`first` looped for first_seconds, then `second` looped for second_seconds."""
    write_video(path, [(first, first_seconds), (second, second_seconds)])


def top1_labels(video: Path, flags: Sequence[str], model: Path = MODEL, labels: Path = LABELS,
                threads: int | None = None, keep: Path | None = None) -> list[str]:
    """The top-1 label of every classified frame of `classify.py --json` with these flags."""
    return top1_and_events(video, flags, (), model, labels, threads, keep)[0]


def top1_and_events(video: Path, flags: Sequence[str], watched: Sequence[str], model: Path = MODEL,
                    labels: Path = LABELS, threads: int | None = None,
                    keep: Path | None = None) -> tuple[list[str], list[dict]]:
    """The top-1 labels of `classify.py --json` with these flags, and the ended events of `--event` on `watched`
    (events.jsonl's "end" records: label, start and end in stream seconds)."""
    tops, events, _, _ = classify_run(video, flags, watched, model, labels, threads, keep)
    return tops, events


def without_event_flags(flags: Sequence[str]) -> list[str]:
    """`flags` without the --event-... options and their values (every such option takes one)."""
    kept_flags: list[str] = []
    skip = False
    for flag in flags:
        if skip:
            skip = False
        elif flag.startswith("--event-"):
            skip = "=" not in flag
        else:
            kept_flags.append(flag)
    return kept_flags


def kept(keep_dir: Path | None, name: str) -> Path | None:
    """Where --keep saves one run's JSON lines (None: not kept)."""
    return keep_dir / f"{name}.jsonl" if keep_dir is not None else None


def classify_run(video: Path, flags: Sequence[str], watched: Sequence[str], model: Path = MODEL,
                 labels: Path = LABELS, threads: int | None = None,
                 keep: Path | None = None,
                 changes: bool = False) -> tuple[list[str], list[dict], float, list[int] | None]:
    """top1_and_events() and the CPU seconds (user + system) that run of classify.py took, its own only (so
    they hold with --jobs above 1 too): what extra invokes cost shows here. `keep`: a file to save the run's
    JSON lines to (each classified frame's timestamp and top labels), to replay other event rules on later.
    `changes`: also the frames after which the change test restarted the window (from --verbose's log)."""
    extra = ["--num-threads", str(threads)] if threads else []
    extra += ["--verbose"] if changes else []
    with tempfile.TemporaryDirectory() as events_dir:
        if watched:
            extra += ["--event", ",".join(watched), "--events-dir", events_dir]
        else:  # the app refuses an event flag without --event: a method's event rule has nothing to apply to
            flags = without_event_flags(flags)
        code, stdout, stderr, cpu = run_child(
            [sys.executable, str(REPO / "classify.py"), "--video", str(video), "--display", "none", "--json",
             "--model", str(model), "--labels", str(labels), *extra, *flags])
        if code:
            raise RuntimeError(f"classify.py {' '.join(flags)} on {video.name} failed: {stderr.strip()}")
        if keep is not None:
            keep.write_text(stdout)
        journal = Path(events_dir) / "events.jsonl"
        records = [json.loads(line) for line in journal.read_text().splitlines()] if journal.is_file() else []
    tops = [json.loads(line)["results"][0]["label"] for line in stdout.splitlines()]
    return tops, [r for r in records if r["type"] == "end"], cpu, window_changes(stderr) if changes else None


def window_changes(log: str) -> list[int]:
    """The classified frames after which a change of action restarted the window, from classify.py --verbose's
    log (utils/model/stream_classifier.py logs each one)."""
    return [int(m) for m in CHANGE_LOGGED.findall(log)]


def run_child(args: Sequence[str]) -> tuple[int, str, str, float]:
    """Runs a program to its end: its exit code, stdout, stderr and CPU seconds. os.wait4 reaps this child
    alone, so the CPU is its own even while other runs go on in the thread pool."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(args, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = code = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait for it again
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read(), usage.ru_utime + usage.ru_stime


def fresh_start_delay(frames: list, label: str, folder: Path, threads: int | None = None) -> int | None:
    """Classified frames until the clip is first top-1 from a fresh stream, played as a pair's second part plays
    it: the floor for a switch into it."""
    video = folder / f"{label}.avi"
    write_video(video, [(frames, SECOND_SECONDS)])
    try:
        tops = top1_labels(video, [], threads=threads)
    finally:
        video.unlink()
    return next((i for i, top in enumerate(tops) if top == label), None)


def share(tops: Sequence[str], label: str) -> float:
    return sum(top == label for top in tops) / len(tops) if tops else 0.0


def switch_metrics(tops: Sequence[str], first: str, second: str, switch_at: int) -> dict:
    """The delay and the shares of one pair's run; `switch_at` is the index of the second action's first frame."""
    delay = next((i - switch_at for i in range(switch_at, len(tops)) if tops[i] == second), None)
    first_share = round(share(tops[:switch_at], first), 4)
    first_before = tops[switch_at - 1] == first
    second_share = round(share(tops[switch_at + delay:], second), 4) if delay is not None else 0.0
    return {"delay": delay, "first_share": first_share, "first_before_switch": first_before,
            "second_share": second_share,
            "meets_targets": (delay is not None and delay <= MAX_DELAY and first_before
                              and first_share >= FIRST_SHARE and second_share >= SECOND_SHARE)}


def summary(pairs: list[dict]) -> dict:
    """A method's figures over the counted pairs, as in the issue's targets."""
    delays = [p["delay"] for p in pairs]
    known = [d for d in delays if d is not None]
    firsts, seconds = [p["first_share"] for p in pairs], [p["second_share"] for p in pairs]
    return {
        "pairs": len(pairs),
        "delay_max": max(known) if len(known) == len(delays) and known else None,  # None: some never switched
        "delay_median": statistics.median(known) if len(known) == len(delays) and known else None,
        "never_switched": len(delays) - len(known),
        "over_max_delay": sum(d is None or d > MAX_DELAY for d in delays),
        "first_share_min": min(firsts), "first_share_mean": round(statistics.mean(firsts), 4),
        "first_share_below_target": sum(f < FIRST_SHARE for f in firsts),
        "first_before_switch": sum(p["first_before_switch"] for p in pairs),
        "second_share_min": min(seconds), "second_share_mean": round(statistics.mean(seconds), 4),
        "second_share_below_target": sum(s < SECOND_SHARE for s in seconds),
        "meet_targets": sum(p["meets_targets"] for p in pairs),
    }


def whole_clip(tops: Sequence[str], label: str) -> dict:
    # After 2 s as well: the first frames of any stream are a guess, whatever the window.
    return {"share": round(share(tops, label), 4), "share_after_2s": round(share(tops[2 * FPS:], label), 4),
            "final_right": bool(tops) and tops[-1] == label}


def parse_pairs(text: str, clips: dict[str, Path] = CLIPS) -> list[tuple[str, str]]:
    if text == "all":
        return list(permutations(clips, 2))
    pairs = [tuple(part.strip() for part in item.split(":")) for item in text.split(",")]
    for pair in pairs:
        if len(pair) != 2 or not all(label in clips for label in pair) or pair[0] == pair[1]:
            raise SystemExit(f"--pairs: {':'.join(pair)!r} is not 'first:second' of two of: {', '.join(clips)}")
    return pairs  # type: ignore[return-value]


def measure(pairs: list[tuple[str, str]], methods: list[str], minutes: float, jobs: int, threads: int | None,
            clips: dict[str, Path] = CLIPS, keep_dir: Path | None = None) -> dict:
    frames = {label: clip_frames(path) for label, path in clips.items() if any(label in p for p in pairs)}
    switch_at = round(minutes * 60 * FPS)
    report: dict = {"fps": FPS, "first_action_seconds": minutes * 60, "second_action_seconds": SECOND_SECONDS,
                    "methods": {m: METHODS[m] for m in methods}, "whole_clips": {}, "pairs": []}
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(jobs) as pool:
        def run_pair(pair: tuple[str, str]) -> dict:
            first, second = pair
            video = Path(folder) / f"{first}-{second}.avi"
            write_switch_video(video, frames[first], frames[second], minutes * 60, SECOND_SECONDS)
            try:
                runs = {m: switch_metrics(top1_labels(video, METHODS[m], threads=threads,
                                                      keep=kept(keep_dir, f"{video.stem}.{m}")),
                                          first, second, switch_at)
                        for m in methods}
            finally:
                video.unlink()
            print(f"{first} -> {second}: " + ", ".join(f"{m} {r['delay']}" for m, r in runs.items()),
                  file=sys.stderr)
            return {"first": first, "second": second, **runs}

        def run_clip(label: str) -> dict:
            runs: dict = {m: whole_clip(top1_labels(clips[label], METHODS[m], threads=threads), label)
                          for m in sorted({*methods, "unbounded"})}
            runs["fresh_start_delay"] = fresh_start_delay(frames[label], label, Path(folder), threads)
            return runs

        labels = sorted(frames)
        report["whole_clips"] = dict(zip(labels, pool.map(run_clip, labels)))
        report["pairs"] = list(pool.map(run_pair, pairs))
    right_alone = {label for label, runs in report["whole_clips"].items() if runs["unbounded"]["final_right"]}
    counted = [p for p in report["pairs"] if p["first"] in right_alone and p["second"] in right_alone]
    report["counted_pairs"] = len(counted)
    report["summary"] = {m: method_summary(m, counted, report["whole_clips"]) for m in methods}
    return report


def method_summary(method: str, counted: list[dict], whole_clips: dict) -> dict:
    """One method's figures: over the counted pairs (as in the issue's targets) and over the whole clips."""
    fresh = {label: runs["fresh_start_delay"] for label, runs in whole_clips.items()}
    clips = whole_clips.values()
    return {
        **(summary([p[method] for p in counted]) if counted else {}),
        # The misses that a fresh stream on the second clip would not have missed.
        "over_max_delay_where_a_fresh_start_is_not": sum(
            (p[method]["delay"] is None or p[method]["delay"] > MAX_DELAY) and (fresh[p["second"]] or 0) <= MAX_DELAY
            for p in counted),
        "whole_clip_share_mean": round(statistics.mean(c[method]["share"] for c in clips), 4),
        "whole_clip_share_after_2s_mean": round(statistics.mean(c[method]["share_after_2s"] for c in clips), 4),
        "whole_clips_worse_than_unbounded": [
            label for label, c in whole_clips.items() if c[method]["share"] < c["unbounded"]["share"]],
        "whole_clips_final_right": sum(c[method]["final_right"] for c in clips),
    }


def first_top1(tops: Sequence[str], label: str, start: int) -> int | None:
    """Frames from index `start` until `label` is top-1 (0: at once); None if never."""
    return next((i - start for i in range(start, len(tops)) if tops[i] == label), None)


def triple_metrics(tops: Sequence[str], events: Sequence[dict], first: str, second: str, part: int) -> dict:
    """One short triple's run (`part` frames each of first, second, first): the delays into the second action and
    back to the first, and whether `--event second` gave one event that starts and ends in time."""
    into, back = first_top1(tops, second, part), first_top1(tops, first, 2 * part)
    hits = [i for i in range(part, 2 * part) if tops[i] == second]
    ours = [e for e in events if e["label"] == second]
    event_ok = (len(ours) == 1 and bool(hits)
                and 0 <= ours[0]["start"] - hits[0] / FPS <= EVENT_START_WITHIN
                and 0 <= ours[0]["end"] - (2 * part - 1) / FPS <= EVENT_END_WITHIN)
    return {"into": into, "back": back, "events": [[e["start"], e["end"]] for e in ours], "event_ok": event_ok}


def triple_run(video: Path, flags: Sequence[str], first: str, second: str, part: int, threads: int | None,
               keep: Path | None = None) -> dict:
    """triple_metrics() of one classify.py run with --event second, and its CPU seconds."""
    tops, events, cpu, _ = classify_run(video, flags, [second], threads=threads, keep=keep)
    return {**triple_metrics(tops, events, first, second, part), "cpu_seconds": round(cpu, 3)}


def triple_summary(triples: list[dict], method: str, fresh: dict) -> dict:
    """A method's short-triple figures: the delays into B and back to A, and how many are within the targets."""
    def stats(delays: list[int | None]) -> dict:
        known = sorted(d for d in delays if d is not None)
        return {"median": statistics.median(known) if known else None,
                "p90": known[min(len(known) - 1, round(0.9 * (len(known) - 1)))] if known else None,
                "max": known[-1] if len(known) == len(delays) and known else None,
                "never": len(delays) - len(known)}
    runs = [(t[method], t["first"], t["second"]) for t in triples]
    delays = [(r["into"], fresh[b]) for r, a, b in runs] + [(r["back"], fresh[a]) for r, a, b in runs]
    return {"triples": len(runs), "into": stats([r["into"] for r, _, _ in runs]),
            "back": stats([r["back"] for r, _, _ in runs]),
            "within_15": round(sum(d is not None and d <= MAX_DELAY for d, _ in delays) / len(delays), 4),
            "within_floor_plus_10": round(sum(d is not None and f is not None and d <= f + 10
                                              for d, f in delays) / len(delays), 4),
            "events_ok": sum(r["event_ok"] for r, _, _ in runs),
            # CPU of whole runs (start-up included) over their frames: what a method's extra invokes cost
            "cpu_ms_per_frame": round(1000 * sum(r.get("cpu_seconds", 0.0) for r, _, _ in runs)
                                      / (3 * SHORT_SECONDS * FPS * len(runs)), 2) if runs else None}


def measure_triples(clips: dict[str, Path], methods: list[str], jobs: int, threads: int | None,
                    keep_dir: Path | None = None, pairs: Sequence[tuple[str, str]] | None = None) -> dict:
    """Every ordered pair of `clips` (or these pairs) as A, B, A of SHORT_SECONDS each, with --event B."""
    pairs = list(permutations(clips, 2)) if pairs is None else list(pairs)
    frames = {label: clip_frames(path) for label, path in clips.items() if any(label in p for p in pairs)}
    part = SHORT_SECONDS * FPS
    report: dict = {"fps": FPS, "part_seconds": SHORT_SECONDS, "methods": {m: METHODS[m] for m in methods}}
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(jobs) as pool:
        def run_triple(pair: tuple[str, str]) -> dict:
            first, second = pair
            video = Path(folder) / f"{first}-{second}-{first}.avi"
            write_video(video, [(frames[first], SHORT_SECONDS), (frames[second], SHORT_SECONDS),
                                (frames[first], SHORT_SECONDS)])
            try:
                runs = {m: triple_run(video, METHODS[m], first, second, part, threads,
                                      kept(keep_dir, f"{video.stem}.{m}")) for m in methods}
            finally:
                video.unlink()
            print(f"{first} -> {second} -> {first}: " + ", ".join(
                f"{m} {r['into']}/{r['back']}" for m, r in runs.items()), file=sys.stderr)
            return {"first": first, "second": second, **runs}

        labels = sorted(frames)
        fresh = dict(zip(labels, pool.map(
            lambda label: fresh_start_delay(frames[label], label, Path(folder), threads), labels)))
        report["fresh_start_delay"] = fresh
        report["triples"] = list(pool.map(run_triple, pairs))
    report["summary"] = {m: triple_summary(report["triples"], m, fresh) for m in methods}
    return report


def measure_changes(methods: list[str], threads: int | None, keep_dir: Path | None = None,
                    folder: Path = MEDIA / "changes") -> dict:
    """media/changes/ (or another folder with a SEGMENTS.tsv): when each Kinetics segment's action is first top-1,
    and the events --event gives."""
    with open(folder / "SEGMENTS.tsv", newline="") as f:
        rows = [row for row in csv.DictReader(f, delimiter="\t") if not row["kinetics600_label"].startswith("other")]
    report: dict = {"methods": {m: METHODS[m] for m in methods}, "videos": {}}
    for name in sorted({row["file"] for row in rows}):
        segments = [row for row in rows if row["file"] == name]
        actions = sorted({row["kinetics600_label"] for row in segments})
        runs = {}
        for m in methods:
            tops, events = top1_and_events(folder / name, METHODS[m], actions, threads=threads,
                                           keep=kept(keep_dir, f"{Path(name).stem}.{m}"))
            runs[m] = {"segments": [
                {"label": row["kinetics600_label"], "start": float(row["start_s"]), "end": float(row["end_s"]),
                 "first_top1": next((round(i / FPS, 2) for i, top in enumerate(tops) if top == row["kinetics600_label"]
                                     and float(row["start_s"]) <= i / FPS < float(row["end_s"])), None)}
                for row in segments],
                "events": [[e["label"], e["start"], e["end"]] for e in events]}
        report["videos"][name] = runs
    return report


def perturb_metrics(tops: Sequence[str], scores: Sequence[float], events: Sequence[dict], changes: Sequence[int],
                    label: str, at: int) -> dict:
    """One --perturb run of a clip (perturbed from frame `at` on) with --event label: the changes of action the
    window's test fired within CHANGE_WITHIN s of `at`; over SHARE_SECONDS before and after `at`, the clip's top-1
    share and its label's mean score (`scores`: per frame), and after it the frames under the events' threshold;
    its events: how many, and how many ended within SHARE_SECONDS after `at` (not at the stream's end)."""
    span, stream_end = SHARE_SECONDS * FPS, len(tops) / FPS
    ours = [e for e in events if e["label"] == label]
    before, after = scores[max(0, at - span):at], scores[at:at + span]
    return {"changes": list(changes),
            "changes_near": sum(at <= c < at + CHANGE_WITHIN * FPS for c in changes),
            "share_before": round(share(tops[max(0, at - span):at], label), 4),
            "share_after": round(share(tops[at:at + span], label), 4),
            "score_before": round(statistics.mean(before), 4) if before else 0.0,
            "score_after": round(statistics.mean(after), 4) if after else 0.0,
            "under_threshold_after": sum(score < EVENT_THRESHOLD for score in after),
            "events": [[e["start"], e["end"]] for e in ours],
            "ends_near": sum(ends_near(e["end"], at / FPS, stream_end) for e in ours)}


def ends_near(end: float, at: float, stream_end: float) -> bool:
    """Whether an event that ends at `end` (s) ended within SHARE_SECONDS after a perturbation at `at` (s), and
    not because the stream stopped."""
    return at <= end < min(at + SHARE_SECONDS, stream_end - 1)


def label_scores(json_lines: str, label: str) -> list[float]:
    """The label's score on each frame of a classify.py --json run (0 where it is not among the results)."""
    return [next((r["score"] for r in json.loads(line)["results"] if r["label"] == label), 0.0)
            for line in json_lines.splitlines()]


def perturb_summary(runs: Sequence[dict]) -> dict:
    """One perturbation's figures over clips (each run a perturb_metrics() of a clip)."""
    return {"clips": len(runs), "changes_near": sum(r["changes_near"] for r in runs),
            "clips_with_changes_near": sum(r["changes_near"] > 0 for r in runs),
            "share_before_mean": round(statistics.mean(r["share_before"] for r in runs), 4),
            "share_after_mean": round(statistics.mean(r["share_after"] for r in runs), 4),
            "share_after_min": min(r["share_after"] for r in runs),
            "score_before_mean": round(statistics.mean(r["score_before"] for r in runs), 4),
            "score_after_mean": round(statistics.mean(r["score_after"] for r in runs), 4),
            "clips_score_down_10": sum(r["score_after"] < r["score_before"] - 0.1 for r in runs),
            "clips_share_after_down_10": sum(r["share_after"] < r["share_before"] - 0.1 for r in runs),
            "clips_with_an_event": sum(bool(r["events"]) for r in runs),
            "clips_with_ends_near": sum(r["ends_near"] > 0 for r in runs),
            "clips_split": sum(len(r["events"]) > 1 for r in runs)}


def measure_perturb(clips: dict[str, Path], perturbations: Sequence[str], methods: list[str], jobs: int,
                    threads: int | None, keep_dir: Path | None = None,
                    sets: dict[str, list[str]] | None = None) -> dict:
    """Each clip looped for PERTURB_SECONDS, without and with each perturbation (benchmarks/perturb.py) from
    PERTURB_AT s on, each run with --event for the clip's own action. `sets`: clip labels to summarise apart."""
    at, count = PERTURB_AT * FPS, PERTURB_SECONDS * FPS
    frames = {label: clip_frames(path) for label, path in clips.items()}
    moved = {label: clip_frames(path, perturb.bumped) for label, path in clips.items()} if "cut" in perturbations \
        else {}
    kinds = ["none", *perturbations]
    report: dict = {"fps": FPS, "seconds": PERTURB_SECONDS, "perturbed_at": PERTURB_AT,
                    "changes_within": CHANGE_WITHIN, "share_seconds": SHARE_SECONDS,
                    "methods": {m: METHODS[m] for m in methods}}
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(jobs) as pool:
        def run(job: tuple[str, str]) -> dict:
            label, kind = job
            video = Path(folder) / f"{label}.{kind}.avi"
            write_frames(video, perturb.perturbed(frames[label], count, at, None if kind == "none" else kind, FPS,
                                                  moved.get(label)))
            try:
                runs = {}
                for m in methods:
                    # The run's JSON lines are kept (in the temporary folder if not asked for) for the scores.
                    log = kept(keep_dir, f"{video.stem}.{m}") or Path(folder) / f"{video.stem}.{m}.jsonl"
                    tops, events, _, changes = classify_run(video, METHODS[m], [label], threads=threads, keep=log,
                                                            changes=True)
                    runs[m] = perturb_metrics(tops, label_scores(log.read_text(), label), events, changes or [],
                                              label, at)
            finally:
                video.unlink()
            print(f"{label}, {kind}: " + ", ".join(
                f"{m} {r['changes_near']} changes, {r['share_before']:.2f} -> {r['share_after']:.2f}, "
                f"{len(r['events'])} events" for m, r in runs.items()), file=sys.stderr)
            return runs

        jobs_list = [(label, kind) for label in clips for kind in kinds]
        results = dict(zip(jobs_list, pool.map(run, jobs_list)))
    report["clips"] = {label: {kind: results[label, kind] for kind in kinds} for label in clips}
    groups = {"all": list(clips), **(sets or {})}
    report["summary"] = {
        group: {m: {kind: perturb_summary([report["clips"][label][kind][m] for label in labels]) for kind in kinds}
                for m in methods}
        for group, labels in groups.items() if labels}
    return report


def perturb_markdown(report: dict) -> str:
    """A --perturb report: per clip set and method, each perturbation's summary; then each clip's runs."""
    lines = []
    for group, by_method in report["summary"].items():
        for method, kinds in by_method.items():
            lines += [f"Clips: {group}, method: {method}", "",
                      f"| perturbation at {report['perturbed_at']} s | clips | changes within "
                      f"{report['changes_within']} s (clips with one) | top-1 share {report['share_seconds']} s "
                      f"before → after: mean (min after) | clips down > 10 points | its score before → after: "
                      f"mean (clips down > 0.1) | event ends within {report['share_seconds']} s | clips with > 1 "
                      f"event |", "|---|---|---|---|---|---|---|---|"]
            for kind, s in kinds.items():
                lines.append(f"| {kind} | {s['clips']} | {s['changes_near']} ({s['clips_with_changes_near']}) | "
                             f"{s['share_before_mean']:.3f} → {s['share_after_mean']:.3f} ({s['share_after_min']:.3f})"
                             f" | {s['clips_share_after_down_10']} | {s['score_before_mean']:.3f} → "
                             f"{s['score_after_mean']:.3f} ({s['clips_score_down_10']}) | "
                             f"{s['clips_with_ends_near']} | {s['clips_split']} |")
            lines.append("")
    for method in report["methods"]:
        kinds = list(next(iter(report["clips"].values())))
        lines += [f"Per clip, {method}: changes within {report['changes_within']} s; top-1 share and score after "
                  f"(before: the first cell); events (s)", "",
                  "| clip | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
        for label, runs in report["clips"].items():
            cells = []
            for kind in kinds:
                r = runs[kind][method]
                share_text = f"{r['share_before']:.2f} / {r['score_before']:.2f} → " if kind == "none" else ""
                share_text += f"{r['share_after']:.2f} / {r['score_after']:.2f}"
                events = "; ".join(f"{a:.0f}–{b:.0f}" for a, b in r["events"]) or "none"
                cells.append(f"{r['changes_near']}, {share_text}, {events}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip()


def triples_markdown(report: dict) -> str:
    """A short-triple report's summary per method, as a Markdown table."""
    lines = ["| method | triples | into B: median / p90 / max | back to A: median / p90 / max | within 15 | "
             "within floor + 10 | events right | CPU ms a frame |", "|---|---|---|---|---|---|---|---|"]
    for method, s in report["summary"].items():
        into, back = (" / ".join(str(part[k]) for k in ("median", "p90", "max")) for part in (s["into"], s["back"]))
        lines.append(f"| {method} | {s['triples']} | {into} | {back} | {s['within_15']:.1%} | "
                     f"{s['within_floor_plus_10']:.1%} | {s['events_ok']}/{s['triples']} | "
                     f"{s.get('cpu_ms_per_frame')} |")
    return "\n".join(lines)


def changes_markdown(report: dict) -> str:
    """A --changes report: when each segment is first top-1, and the events, per method."""
    lines = ["| video | method | segments: first top-1 (s) | events (s) |", "|---|---|---|---|"]
    for name, runs in report["videos"].items():
        for method, run in runs.items():
            segments = "; ".join(f"{seg['label']} {seg['start']:g}–{seg['end']:g}: {seg['first_top1']}"
                                 for seg in run["segments"])
            events = "; ".join(f"{label} {start:.1f}–{end:.1f}" for label, start, end in run["events"]) or "none"
            lines.append(f"| {name} | {method} | {segments} | {events} |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The summary per method and each method's delay matrix, as Markdown tables."""
    if "perturbed_at" in report:
        return perturb_markdown(report)
    if "triples" in report:
        return triples_markdown(report)
    if "videos" in report:
        return changes_markdown(report)
    lines = ["| method | pairs | delay max / median | pairs over 15 | 1st top-1: min / mean | 1st right on the "
             "frame before | 2nd top-1 after the delay: min / mean | whole clips: mean top-1 share, worse than "
             "unbounded | meet all targets | misses a fresh start would not have |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for method, s in report["summary"].items():
        name = f"{method} (`{' '.join(METHODS[method])}`)" if METHODS[method] else f"{method} (the app's defaults)"
        delay = f"{s['delay_max']} / {s['delay_median']:g}" if s.get("delay_max") is not None else \
            f"never in {s.get('never_switched', '?')}"
        worse = ", ".join(s["whole_clips_worse_than_unbounded"]) or "none"
        lines.append(f"| {name} | {s.get('pairs', 0)} | {delay} | {s.get('over_max_delay')} | "
                     f"{s.get('first_share_min', 0):.3f} / {s.get('first_share_mean', 0):.3f} | "
                     f"{s.get('first_before_switch')}/{s.get('pairs', 0)} | "
                     f"{s.get('second_share_min', 0):.3f} / {s.get('second_share_mean', 0):.3f} | "
                     f"{s['whole_clip_share_mean']:.3f}, {worse} | {s.get('meet_targets')}/{s.get('pairs', 0)} | "
                     f"{s['over_max_delay_where_a_fresh_start_is_not']} |")
    labels = list(dict.fromkeys(label for p in report["pairs"] for label in (p["first"], p["second"])))
    fresh = [str(report["whole_clips"][label].get("fresh_start_delay")) for label in labels]
    lines += ["", "From a fresh stream, each clip's own first frame as top-1 (the floor for a switch into it):", "",
              "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|",
              "| fresh start | " + " | ".join(fresh) + " |"]
    for method in report["summary"]:
        delays = {(p["first"], p["second"]): p[method]["delay"] for p in report["pairs"]}
        lines += ["", f"Delay in classified frames, {method} (rows: first action, columns: second):", "",
                  "| first \\ second | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for first in labels:
            cells = ["-" if first == second else
                     ("" if (first, second) not in delays else
                      "never" if delays[first, second] is None else str(delays[first, second]))
                     for second in labels]
            lines.append(f"| {first} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--pairs", default="all", help="'all' or comma-separated 'first:second' action names")
    choices = ", ".join(f"{name} ({' '.join(flags) or 'the defaults'})" for name, flags in METHODS.items())
    parser.add_argument("--methods", default="default,fixed-4s", help=f"comma-separated, of: {choices}")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the first action runs")
    parser.add_argument("--jobs", type=int, default=1, help="runs at the same time")
    parser.add_argument("--threads", type=int, default=None, help="--num-threads of each run (default: the app's)")
    parser.add_argument("--clips", default="shared",
                        help=f"comma-separated, of: {', '.join(CLIP_SETS)}: the shared clips (to tune on), the "
                             "validation clips right on their own (to judge on)")
    parser.add_argument("--clip", action="append", default=[], metavar="LABEL=FILE",
                        help="also this clip of this action (repeatable)")
    parser.add_argument("--triples", action="store_true",
                        help=f"short actions: A, B and A again, {SHORT_SECONDS} s each, with --event B")
    parser.add_argument("--changes", action="store_true", help="the videos of media/changes/ (SEGMENTS.tsv)")
    parser.add_argument("--perturb", metavar="NAMES",
                        help=f"comma-separated, of: {', '.join(perturb.PERTURBATIONS)}, or all: each clip looped for "
                             f"{PERTURB_SECONDS} s, without and with each from {PERTURB_AT} s on, with --event for "
                             "its own action (benchmarks/perturb.py)")
    parser.add_argument("--changes-dir", type=Path, default=MEDIA / "changes", metavar="DIR",
                        help="--changes on the videos of this folder and its SEGMENTS.tsv")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="save each run's JSON lines (per classified frame: timestamp, top labels and scores) "
                             "in DIR as <video>.<method>.jsonl, to replay event rules on (benchmarks/event_rule.py)")
    parser.add_argument("--markdown", type=Path, metavar="REPORT",
                        help="measure nothing: print a saved JSON report as Markdown tables")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    methods = args.methods.split(",")
    if unknown := [m for m in methods if m not in METHODS]:
        parser.error(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if args.keep is not None and not args.keep.is_dir():
        parser.error(f"--keep: {args.keep} is not a directory")
    try:
        clips = clip_set(args.clips, args.clip)
    except ValueError as e:
        parser.error(str(e))
    if args.perturb and (args.triples or args.changes):
        parser.error("--perturb plays each clip alone: not with --triples or --changes")
    if args.perturb:
        try:
            perturbations = perturb.named_perturbations(args.perturb)
        except ValueError as e:
            parser.error(str(e))
        sets = {name: [label for label in CLIP_SETS[name]() if label in clips] for name in args.clips.split(",")}
        report = measure_perturb(clips, perturbations, methods, max(1, args.jobs), args.threads, args.keep,
                                 sets if len(sets) > 1 else None)
    elif args.changes:
        if not (args.changes_dir / "SEGMENTS.tsv").is_file():
            parser.error(f"--changes-dir: {args.changes_dir} has no SEGMENTS.tsv")
        report = measure_changes(methods, args.threads, args.keep, args.changes_dir)
    elif args.triples:
        report = measure_triples(clips, methods, max(1, args.jobs), args.threads, args.keep,
                                 parse_pairs(args.pairs, clips))
    else:
        report = measure(parse_pairs(args.pairs, clips), methods, args.minutes, max(1, args.jobs),
                         args.threads, clips, args.keep)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
