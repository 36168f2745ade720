"""The window's key help (h), the overlay's sizes (o) and what r and t did, shown on the screen.

OpenCV's window calls are replaced (test_window.FakeHighGui): what is checked is the image handed to imshow.
"""

from __future__ import annotations

import numpy as np
from test_window import FakeHighGui

from utils.results import Prediction, Result
from utils.sinks import Command, WindowSink
from utils.sinks.base import Status, Update
from utils.sinks.overlay import COMPACT, FULL, OFF, Annotator, OverlayRenderer, status_lines
from utils.sources import Frame

PREDICTIONS = (Prediction("carving ice", 0.9), Prediction("chiseling stone", 0.05), Prediction("ice skating", 0.02))


MEASURED = Status(model="m", capture_fps=30, classify_fps=5, inference_ms=4)


def grey_update(status: Status = MEASURED) -> Update:
    frame = Frame(np.full((480, 640, 3), 120, np.uint8), 0.0, 0)
    return Update(frame, Result(0, 0.0, 4.0, PREDICTIONS), True, status)


def shown(gui: FakeHighGui) -> np.ndarray:
    return [call for call in gui.calls if call[0] == "imshow"][-1][1]


def covered(image: np.ndarray) -> float:
    """The share of a grey (120) frame the overlay changed."""
    return float((image != 120).any(axis=2).mean())


def press(monkeypatch, sink: WindowSink, key: str, update: Update | None = None) -> tuple[Command | None, FakeHighGui]:
    gui = FakeHighGui([ord(key)]).install(monkeypatch)
    return sink.write(update or grey_update()), gui


def test_h_shows_the_keys_over_the_video_and_hides_them_again(monkeypatch):
    sink = WindowSink()
    sink._feedback = ""
    _, gui = press(monkeypatch, sink, "x")
    before = shown(gui)
    press(monkeypatch, sink, "h")
    _, gui = press(monkeypatch, sink, "x")
    with_help = shown(gui)
    middle = slice(200, 430)  # between the overlay's panels
    assert (with_help[middle] > 230).all(axis=2).sum() > 500, "no help text"
    assert sink.banner(0.0)[:2] == ["q or Esc: quit    r: restart the stream    f: full screen",
                                    "o: overlay full, compact or off    t: teach (--teach NAME)    h: hide these keys"]
    press(monkeypatch, sink, "h")
    sink._feedback = ""  # the first hint, gone after a few seconds
    _, gui = press(monkeypatch, sink, "x")
    assert np.array_equal(shown(gui)[middle], before[middle])


def test_the_first_hint_names_the_help_key_and_goes_after_a_while(monkeypatch):
    sink = WindowSink()
    press(monkeypatch, sink, "x")
    assert sink.banner(0.0) == ["h: show the keys"]
    assert sink.banner(float("inf")) == []


def test_r_and_t_say_on_the_screen_what_they_did(monkeypatch):
    sink = WindowSink()
    command, gui = press(monkeypatch, sink, "r")
    assert command is Command.RESET and sink.banner(0.0)[-1] == "r: the stream starts afresh"
    command, _ = press(monkeypatch, sink, "t")
    assert command is Command.TEACH and sink.banner(0.0)[-1] == "t: nothing to teach; start with --teach NAME"
    command, _ = press(monkeypatch, sink, "t", grey_update(Status(teach="my wave", teach_what="'my wave'")))
    assert command is Command.TEACH and sink.banner(0.0)[-1] == "t: teaching 'my wave'"
    background = Status(teach="my wave", teach_what="the background of 'my wave'")  # --teach-background
    command, _ = press(monkeypatch, sink, "t", grey_update(background))
    assert command is Command.TEACH and sink.banner(0.0)[-1] == "t: teaching the background of 'my wave'"
    _, gui = press(monkeypatch, sink, "x")
    band = shown(gui)[200:430]  # between the overlay's panels
    assert (band > 230).all(axis=2).sum() > 200, "the feedback is drawn"


def test_o_makes_the_overlay_compact_then_hides_it(monkeypatch):
    sink = WindowSink()
    sink.help, sink._feedback = False, ""  # the overlay alone
    coverage = {}
    for mode in (FULL, COMPACT, OFF):
        assert sink.annotator.renderer.mode == mode
        _, gui = press(monkeypatch, sink, "x")
        coverage[mode] = covered(shown(gui))
        press(monkeypatch, sink, "o")
        sink._feedback = ""
    assert sink.annotator.renderer.mode == FULL  # round again
    assert 0.3 < coverage[FULL] < 0.45 and 0.05 < coverage[COMPACT] < 0.15 and coverage[OFF] == 0


def test_the_banner_stays_out_of_the_shared_overlay(monkeypatch):
    """The window and the web view share one Annotator: the key help is the window's own."""
    annotator = Annotator(OverlayRenderer())
    sink = WindowSink(annotator=annotator)
    sink.help = True
    update = grey_update()
    _, gui = press(monkeypatch, sink, "x", update)
    assert not np.array_equal(shown(gui), annotator.draw(update))


def test_the_rates_wait_until_they_are_measured():
    assert status_lines(Status())[0] == "measuring the rates..."
    assert status_lines(Status(capture_fps=30, classify_fps=5, inference_ms=4))[0].startswith("classify  5.0 fps")
