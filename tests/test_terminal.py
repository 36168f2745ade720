"""The terminal status line for real, in an 80-column tmux pane (a terminal as over SSH): one line that fits,
cleared before each log line, the file's position and time left, and the summary at the end."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from types import SimpleNamespace

import pytest
from conftest import ARM_WRESTLING, LABELS, MODEL, REPO, need_binary

from utils.config import Config
from utils.results import Prediction, Result
from utils.run_summary import RunSummary
from utils.sinks.status_line import columns, fit, redraw
from utils.teach import teach_from_file

COLUMNS, ROWS = 80, 24


class Tmux:
    """A tmux server of this test only (its own socket, -L), ended by kill-server on that socket."""

    def __init__(self) -> None:
        self.binary = need_binary("tmux", "tmux")
        self.socket = f"test-{uuid.uuid4().hex[:12]}"

    def __call__(self, *args: str, timeout: float = 30) -> str:
        done = subprocess.run([self.binary, "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=timeout, check=True)
        return done.stdout

    def run_in_pane(self, command: list[str], timeout: float, columns: int = COLUMNS) -> str:
        """Runs the command in a `columns` x ROWS pane and returns everything the pane showed (scrollback too)."""
        self.start(command, columns)
        self("wait-for", "-S", "go")
        return self.screen(timeout)

    def start(self, command: list[str], columns: int = COLUMNS) -> None:
        """Opens a `columns` x ROWS pane for the command, which starts once the "go" channel is signalled."""
        # The pane's shell signals the end through tmux's wait-for channel (no polling), then idles until
        # the server is killed, so the pane is still there to be read.
        tmux = f"{shlex.quote(self.binary)} -L {self.socket}"
        script = f"{tmux} wait-for go; {shlex.join(command)}; {tmux} wait-for -S done; sleep 600"
        self("-f", os.devnull, "new-session", "-d", "-x", str(columns), "-y", str(ROWS), "sh", "-c", script)

    def screen(self, timeout: float) -> str:
        """Everything the pane showed (scrollback too), once the command has ended."""
        self("wait-for", "done", timeout=timeout)
        return self("capture-pane", "-p", "-J", "-S", "-1000")  # -J: a wrapped line comes back whole

    def kill(self) -> None:
        subprocess.run([self.binary, "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tmux():
    server = Tmux()
    yield server
    server.kill()


def test_the_status_line_stays_one_line_at_80_columns_and_log_lines_stand_alone(tmux, tmp_path):
    # --realtime: 10 s of refreshes; the event makes log lines while the status line is shown.
    command = [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
               "--video", str(ARM_WRESTLING), "--realtime", "--display", "none", "--event", "arm wrestling",
               "--events-dir", str(tmp_path / "events")]
    screen = tmux.run_in_pane(command, timeout=120)
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    status = [line for line in lines if " of 0:10" in line]  # the status line shows the file's position
    # Refreshed 4 times a second for 10 s, yet one line on the screen: the final state, left when it ended.
    assert len(status) == 1 and len(status[0]) < COLUMNS, screen  # shorter: a full line may wrap
    assert status[0].startswith("arm wrestling 1.00 | 0:10 of 0:10"), screen
    started = [line for line in lines if "event: arm wrestling started" in line]
    assert len(started) == 1 and started[0].startswith("event: "), screen  # not glued to the status
    assert "0.0 fps" not in screen  # the rates appear once they are measured
    assert lines[-1].startswith("done: ") and "events: 1 (arm wrestling 1)" in lines[-1], screen
    assert "Traceback" not in screen



def classify_file(*args: str) -> list[str]:
    """classify.py on the arm wrestling clip at its own speed (10 s of refreshes), without a window."""
    return [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
            "--video", str(ARM_WRESTLING), "--realtime", "--display", "none", *args]


def test_a_terminal_made_narrower_keeps_one_status_line(tmux):
    """The terminal rewraps the old line over two rows at half the width; a carriage return reaches only the
    last of them, so the first stayed on the screen ("... | 0:02 of 0:10 | clasarm wrestling 1.00")."""
    tmux.start(classify_file())
    tmux("wait-for", "-S", "go")
    deadline = time.monotonic() + 60
    while " of 0:10 | " not in tmux("capture-pane", "-p"):  # a status line of over 40 columns is shown
        assert time.monotonic() < deadline, tmux("capture-pane", "-p")
        time.sleep(0.1)
    tmux("resize-window", "-x", "40")
    screen = tmux.screen(timeout=120)
    status = [line.rstrip() for line in screen.splitlines() if line.startswith("arm wrestling")]
    assert status == ["arm wrestling 1.00"], screen  # the final state, all that fits in 39 columns
    assert " of 0:" not in screen, screen  # no row left of the wider line
    assert "Traceback" not in screen


def test_with_term_dumb_the_status_line_uses_no_escape_sequences(tmux, tmp_path):
    """A terminal without escape sequences (an editor's shell, a serial console) showed "^[[K" at every refresh;
    spaces cover the old line instead, before a log line too."""
    output = tmp_path / "pane.out"
    tmux.start(["env", "TERM=dumb", *classify_file("--event", "arm wrestling", "--events-dir", str(tmp_path))])
    tmux("pipe-pane", "-o", f"cat > {shlex.quote(str(output))}")  # what the app wrote, before the terminal
    tmux("wait-for", "-S", "go")
    screen = tmux.screen(timeout=120)
    written = output.read_bytes()
    assert written.count(b"\r") >= 20 and b"\x1b" not in written, written[-300:]
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    assert len([line for line in lines if " of 0:10" in line]) == 1, screen
    assert "event: arm wrestling started at 0.0 s (" in screen and all(
        line.startswith("event: ") for line in lines if "event: " in line), screen  # not glued to the status


def test_the_status_line_is_redrawn_over_the_rows_the_old_one_takes():
    new = "arm wrestling 1.00"
    assert redraw(new, 60, 80, 80, escapes=True) == f"\r{new}\x1b[K"  # the same width: one row
    assert redraw(new, 60, 80, 100, escapes=True) == f"\r{new}\x1b[K"  # wider: still one row
    assert redraw(new, 60, 80, 40, escapes=True) == f"\x1b[1A\r{new}\x1b[J"  # rewrapped over two rows
    assert redraw(new, 79, 80, 20, escapes=True) == f"\x1b[3A\r{new}\x1b[J"  # over four
    assert redraw(new, 60, 80, 0, escapes=True).endswith(f"\r{new}\x1b[J")  # a pane of no width: no error
    # Without escape sequences, spaces cover the rest of a longer old line, as far as the width allows.
    assert redraw(new, 30, 80, 80, escapes=False) == f"\r{new}" + " " * 12
    assert redraw(new, 10, 80, 80, escapes=False) == f"\r{new}"
    assert redraw(new, 60, 80, 25, escapes=False) == f"\r{new}" + " " * 6


def test_a_taught_action_named_in_wide_characters_keeps_the_status_line_to_one_line(tmux, tmp_path):
    """CJK characters take two columns each: measured in characters, the line was wider than a 60-column pane,
    wrapped, and every refresh left a copy on the screen."""
    name = "腕相撲の練習をする二人"  # "two people practising arm wrestling"
    teach_from_file(Config.from_options(model=MODEL, labels=LABELS, video=str(ARM_WRESTLING), teach=name,
                                        actions_dir=tmp_path))
    command = [sys.executable, str(REPO / "classify.py"), "--model", str(MODEL), "--labels", str(LABELS),
               "--video", str(ARM_WRESTLING), "--realtime", "--display", "none", "--actions-dir", str(tmp_path),
               "--taught", "only"]
    screen = tmux.run_in_pane(command, timeout=120, columns=60)
    status = [line.rstrip() for line in screen.splitlines() if " of 0:10" in line]
    assert len(status) == 1 and columns(status[0]) < 60, screen
    assert f"top actions: {name} " in screen, screen  # it was on the status line for most of the run
    assert "Traceback" not in screen


def test_the_status_line_gives_up_its_last_parts_to_fit():
    parts = ["arm wrestling 0.97", "0:12 of 1:00, 0:40 left", "classify 5.0 fps", "3.8 ms", "capture 30.0 fps"]
    assert fit(parts, 120) == " | ".join(parts)
    assert fit(parts, 79) == "arm wrestling 0.97 | 0:12 of 1:00, 0:40 left | classify 5.0 fps | 3.8 ms"
    assert fit(parts, 45) == "arm wrestling 0.97 | 0:12 of 1:00, 0:40 left"
    assert fit(parts, 30) == "arm wrestling 0.97"
    assert fit(parts, 10) == "arm wre..."
    wide = ["腕相撲 0.97", "0:12 of 1:00"]  # two columns a character
    assert columns(wide[0]) == 11 and fit(wide, 26) == "腕相撲 0.97 | 0:12 of 1:00" and fit(wide, 25) == wide[0]
    assert fit(wide, 9) == "腕相撲..." and fit(wide, 8) == "腕相..."
    assert fit(["e\u0301" * 8], 8) == "e\u0301" * 8  # a combining accent takes no column


def test_the_summary_counts_one_frame_in_the_singular():
    summary = RunSummary()
    summary.add(Result(0, 0.0, 1.0, (Prediction("yoga", 0.9),)))
    assert ", 1 frame classified; top actions: yoga 100%" in summary.text()
    summary.add(Result(1, 0.2, 1.0, (Prediction("yoga", 0.9),)))
    assert ", 2 frames classified" in summary.text()


def test_the_summary_gives_a_run_under_a_tenth_of_a_second_its_digits(monkeypatch):
    """A short clip on a fast machine: "4.2 s of video in 0.03 s", not "in 0.0 s"."""
    clock = iter([100.0, 100.03])
    monkeypatch.setattr("utils.run_summary.time", SimpleNamespace(monotonic=lambda: next(clock)))
    summary = RunSummary(length=4.2)
    for index, timestamp in enumerate((0.0, 4.2)):
        summary.add(Result(index, timestamp, 1.0, (Prediction("carving ice", 0.9),)))
    assert summary.text().startswith("done: 4.2 s of video in 0.03 s (140.0x real time), 2 frames classified")
