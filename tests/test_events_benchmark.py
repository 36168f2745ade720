"""benchmarks/events.py: one short run, checked for its fields (no timed asserts: the numbers are for people)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO


def test_the_events_benchmark_reports_ring_loop_and_process_costs():
    done = subprocess.run([sys.executable, "-m", "benchmarks.events", "--seconds", "3", "--runs", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    report = json.loads(line)
    ring = report["ring"]
    assert ring["frames"] == 90 and ring["raw"]["bytes"] == 90 * 640 * 480 * 3
    assert 0 < ring["jpeg"]["bytes"] < ring["raw"]["bytes"] / 5
    assert ring["jpeg"]["encode_ms"] > 0 and ring["jpeg"]["decode_ms"] > 0
    assert set(report["loop"]) == set(report["process"]) == {"off", "events", "record"}
    for loop in report["loop"].values():
        assert loop["frames"] == 90 and loop["classified"] == 15 and loop["e2e_ms"]["p50"] > 0
    assert report["loop"]["record"]["recorder_cpu_s"] > 0 and report["loop"]["record"]["ring_bytes"] > 0
    assert report["loop"]["events"]["e2e_vs_off"] > 0
    for process in report["process"].values():
        assert 30 < process["peak_rss_mb"] < 2000 and process["cpu_percent"] > 0
