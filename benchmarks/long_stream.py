"""How fast a new action takes over after minutes of another one, for several --window settings.

    python benchmarks/long_stream.py [--windows 0,3,4,6] [--minutes 5]

Builds two videos from the shared clips at 5 fps (one clip looped for --minutes, then the other for
30 s), runs `classify.py --json` on each, and prints one JSON object: per window, the classified frames
until the second action became top-1, whether the first was still top-1 just before, and the top-1 at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.paths import LABELS, MEDIA, MODEL  # noqa: E402
from utils.sources import sampled_frames  # noqa: E402

CLIPS = {"carving ice": MEDIA / "carving_ice.mp4", "arm wrestling": MEDIA / "arm_wrestling.mp4"}
FPS = 5
SIZE = (172, 172)


def clip_frames(path: Path) -> list:
    """The clip's frames at 5 fps (by timestamp), resized to one common size."""
    return [cv2.resize(frame.image, SIZE, interpolation=cv2.INTER_AREA) for frame in sampled_frames(path, FPS)]


def write_switch_video(path: Path, first: list, second: list, first_seconds: float, second_seconds: float) -> None:
    """`first` looped for first_seconds, then `second` looped, at 5 fps (MJPG: quick to write and read)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    for i in range(round(first_seconds * FPS)):
        writer.write(first[i % len(first)])
    for i in range(round(second_seconds * FPS)):
        writer.write(second[i % len(second)])
    writer.release()


def top1_labels(video: Path, window: float, model: Path, labels: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(REPO / "classify.py"), "--video", str(video), "--display", "none", "--json",
         "--window", str(window), "--model", str(model), "--labels", str(labels)],
        capture_output=True, text=True, check=True)
    return [json.loads(line)["results"][0]["label"] for line in done.stdout.splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="0,3,4,6", help="comma-separated --window values in seconds")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the first action runs")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args()

    frames = {label: clip_frames(path) for label, path in CLIPS.items()}
    switch_at = round(args.minutes * 60 * FPS)
    report = {"fps": FPS, "first_action_seconds": args.minutes * 60, "second_action_seconds": 30, "runs": []}
    with tempfile.TemporaryDirectory() as folder:
        for first, second in (("carving ice", "arm wrestling"), ("arm wrestling", "carving ice")):
            video = Path(folder) / "switch.avi"
            write_switch_video(video, frames[first], frames[second], args.minutes * 60, 30)
            for window in (float(w) for w in args.windows.split(",")):
                tops = top1_labels(video, window, args.model, args.labels)
                switch = next((i - switch_at for i in range(switch_at, len(tops)) if tops[i] == second), None)
                report["runs"].append({
                    "window_s": window, "first": first, "second": second,
                    "switch_frames": switch,
                    "first_top1_just_before": tops[switch_at - 1] == first,
                    "first_top1_share": round(sum(t == first for t in tops[:switch_at]) / switch_at, 3),
                    "top1_at_end": tops[-1],
                })
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
