"""--display: choosing the screen on a faked machine (SSH, X sockets, Wayland, DRM), the real probe, the DRM sink."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port

from utils.config import Config
from utils.errors import ClassifierError
from utils.results import Prediction, Result
from utils.sinks import Update, WindowSink, make_sinks
from utils.sinks.base import Status
from utils.sinks.display import MAX_PROBES, DisplayChoice, choose_display, connected_screens, drm_ready, probe_window
from utils.sources import Frame, SyntheticSource

SSH = {"SSH_CONNECTION": "192.168.1.20 50000 192.168.1.30 22", "HOME": "/root", "PATH": "/usr/bin"}


class FakeProbe:
    """Records each environment tried; a window opens where `works(env)` says so."""

    def __init__(self, works=lambda env: True, error="could not connect to display"):
        self.works, self.error, self.calls = works, error, []

    def __call__(self, env):
        self.calls.append(dict(env))
        return None if self.works(env) else self.error


def machine(tmp_path: Path, *, x=(), users=(("pi", 1000),), logged_in=(1000,), cookies=(), wayland=False,
            screen: str | None = "1920x1080") -> Path:
    """A fake filesystem root: X sockets, /etc/passwd, /run/user, cookies, a monitor in /sys/class/drm."""
    (tmp_path / "etc").mkdir(parents=True)
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n" + "".join(
        f"{name}:x:{uid}:{uid}::/home/{name}:/bin/bash\n" for name, uid in users))
    for number in x:
        (tmp_path / "tmp/.X11-unix").mkdir(parents=True, exist_ok=True)
        (tmp_path / f"tmp/.X11-unix/X{number}").touch()
    for uid in logged_in:
        (tmp_path / f"run/user/{uid}").mkdir(parents=True)
        if wayland:
            (tmp_path / f"run/user/{uid}/wayland-0").touch()
    for cookie in cookies:
        path = tmp_path / cookie
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"cookie")
    connector = tmp_path / "sys/class/drm/card1-HDMI-A-1"
    connector.mkdir(parents=True)
    (connector / "status").write_text("connected\n" if screen else "disconnected\n")
    (connector / "modes").write_text(f"{screen}\n1280x720\n" if screen else "")
    return tmp_path


def choose(root, environ, probe=None, drm=False, **config):
    return choose_display(Config.from_options(**config), environ, root, probe or FakeProbe(), lambda: drm)


def test_ssh_without_display_finds_the_desktop_and_its_cookie(tmp_path):
    """Raspberry Pi OS with an X11 desktop (lightdm writes ~/.Xauthority): over SSH, the window goes there."""
    root = machine(tmp_path, x=[0], cookies=["home/pi/.Xauthority"])
    probe = FakeProbe()
    choice = choose(root, SSH, probe)
    assert choice.name == "window"
    assert choice.environ == {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb",
                              "XAUTHORITY": str(root / "home/pi/.Xauthority")}
    assert choice.fullscreen, "nobody sits at the Pi to enlarge a window opened from SSH"
    assert ":0" in choice.reason and "user pi" in choice.reason
    assert probe.calls[0]["SSH_CONNECTION"] == SSH["SSH_CONNECTION"], "the probe runs in our own environment too"


def test_labwc_xwayland_without_a_cookie(tmp_path):
    """Bookworm/Trixie's labwc or wayfire start Xwayland without -auth: DISPLAY=:0 alone is enough."""
    root = machine(tmp_path, x=[0], wayland=True)
    choice = choose(root, SSH)
    assert choice.name == "window"
    assert choice.environ == {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}


def test_a_rejected_cookie_falls_back_to_the_next_way_in(tmp_path):
    root = machine(tmp_path, x=[0], cookies=["home/pi/.Xauthority", "run/user/1000/.mutter-Xwaylandauth.AB12"])
    probe = FakeProbe(works=lambda env: "mutter" in env.get("XAUTHORITY", ""))
    choice = choose(root, SSH, probe)
    assert choice.environ["XAUTHORITY"].endswith(".mutter-Xwaylandauth.AB12")
    assert [call.get("XAUTHORITY", "").rsplit("/", 1)[-1] for call in probe.calls] == [
        ".Xauthority", ".mutter-Xwaylandauth.AB12"]


def test_our_own_display_is_tried_first_and_not_made_full_screen(tmp_path):
    root = machine(tmp_path, x=[0, 1])
    probe = FakeProbe()
    choice = choose(root, {**SSH, "DISPLAY": ":1"}, probe)
    assert choice.environ == {"DISPLAY": ":1", "QT_QPA_PLATFORM": "xcb"}
    assert not choice.fullscreen
    assert choice.reason == "a window on DISPLAY=:1"
    assert len(probe.calls) == 1


def test_ssh_x_forwarding_prefers_the_monitor_on_the_pi(tmp_path):
    root = machine(tmp_path, x=[0])
    forwarded = {**SSH, "DISPLAY": "localhost:10.0"}
    assert choose(root, forwarded).environ["DISPLAY"] == ":0"
    only_forwarded = choose(root, forwarded, FakeProbe(works=lambda env: env["DISPLAY"] != ":0"))
    assert only_forwarded.environ["DISPLAY"] == "localhost:10.0"
    assert "forwarded over SSH" in only_forwarded.reason


def test_no_desktop_with_the_pi_camera_and_a_monitor_uses_drm(tmp_path):
    """Raspberry Pi OS Lite: nothing owns the screen, so picamera2's DRM preview can."""
    root = machine(tmp_path, logged_in=())
    probe = FakeProbe()
    choice = choose(root, SSH, probe, drm=True)
    assert choice.name == "drm"
    assert "no desktop" in choice.reason
    assert probe.calls == []


@pytest.mark.parametrize("case", ["no monitor", "no picamera2/pykms", "a video file", "a USB camera"])
def test_no_desktop_and_no_drm_runs_headless(tmp_path, case):
    root = machine(tmp_path, logged_in=(), screen=None if case == "no monitor" else "1920x1080")
    config = {"a video file": {"video": "clip.mp4"}, "a USB camera": {"camera_id": 0}}.get(case, {})
    choice = choose(root, SSH, drm=case != "no picamera2/pykms", **config)
    assert choice.name == "none"
    assert "no desktop" in choice.reason and "--web" in choice.reason


def test_wayland_only_is_named_and_never_gets_drm(tmp_path):
    """A compositor without Xwayland owns the screen: no OpenCV window, and no DRM preview either."""
    root = machine(tmp_path, wayland=True)
    choice = choose(root, {**SSH, "WAYLAND_DISPLAY": "wayland-0"}, drm=True)
    assert choice.name == "none"
    assert "Wayland desktop without Xwayland" in choice.reason


def test_a_failing_probe_is_reported_and_falls_back(tmp_path):
    root = machine(tmp_path, x=[0])
    probe = FakeProbe(works=lambda env: False, error="Authorization required, but no authorization protocol")
    choice = choose(root, SSH, probe, drm=True)
    assert choice.name == "none", "an X server holds the screen, so DRM cannot have it"
    assert "Authorization required" in choice.reason
    # A stale DISPLAY with no X server at all: the screen is free for the DRM preview.
    root = machine(tmp_path / "lite", logged_in=())
    assert choose(root, {**SSH, "DISPLAY": ":0"}, FakeProbe(works=lambda env: False), drm=True).name == "drm"


def test_probes_are_capped(tmp_path):
    root = machine(tmp_path, x=[0, 1, 2, 3], cookies=["home/pi/.Xauthority"])
    probe = FakeProbe(works=lambda env: False)
    assert choose(root, SSH, probe).name == "none"
    assert len(probe.calls) == MAX_PROBES


def test_display_window_without_a_screen_says_what_to_do(tmp_path):
    root = machine(tmp_path, logged_in=())
    with pytest.raises(ClassifierError, match=r"--display window: cannot open a window: no desktop.*--display web"):
        choose(root, SSH, display="window")


@pytest.mark.parametrize("display", ["none", "web", "drm"])
def test_explicit_displays_probe_nothing(tmp_path, display):
    probe = FakeProbe()
    choice = choose(machine(tmp_path, x=[0]), SSH, probe, display=display)
    assert (choice.name, choice.reason) == (display, f"--display {display}")
    assert probe.calls == []


def test_display_drm_needs_the_pi_camera(tmp_path):
    with pytest.raises(ClassifierError, match="--display drm .* cannot show --video"):
        choose(machine(tmp_path), SSH, display="drm", video="clip.mp4")


def test_connected_screens_reads_the_preferred_mode(tmp_path):
    root = machine(tmp_path)
    (root / "sys/class/drm/card1-HDMI-A-2").mkdir()
    (root / "sys/class/drm/card1-HDMI-A-2/status").write_text("disconnected\n")
    (root / "sys/class/drm/card1-HDMI-A-2/modes").write_text("")
    assert connected_screens(root) == [("HDMI-A-1", (1920, 1080))]
    assert connected_screens(tmp_path / "nowhere") == []


def test_the_real_probe_survives_a_missing_x_server(tmp_path):
    """Qt aborts when it cannot connect; in the child process that is only an error message for us."""
    error = probe_window({"PATH": "/usr/bin:/bin", "DISPLAY": ":4321", "QT_QPA_PLATFORM": "xcb",
                          "HOME": str(tmp_path)})
    assert error and "display" in error.lower()


def test_the_real_probe_opens_a_window_on_xvfb(xvfb, tmp_path):
    assert probe_window({"PATH": "/usr/bin:/bin", "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb",
                         "HOME": str(tmp_path)}) is None


# make_sinks: which sinks each display gets.

def kinds(sinks) -> list[str]:
    return [type(sink).__name__ for sink in sinks]


@pytest.mark.parametrize(("display", "options", "expected"), [
    ("none", {}, ["StatusLineSink"]),
    ("none", {"json": True}, ["JsonSink"]),
    ("window", {}, ["WindowSink"]),
    ("window", {"json": True, "web": True}, ["JsonSink", "WindowSink", "WebSink"]),
    ("web", {}, ["WebSink", "StatusLineSink"]),
])
def test_make_sinks(display, options, expected):
    config = Config.from_options(display=display, web_port=free_port(), **options)
    sinks = make_sinks(config.output, DisplayChoice(display, "test"), source=None)
    try:
        assert kinds(sinks) == expected
    finally:
        for sink in sinks:
            sink.close()


def test_a_window_found_over_ssh_opens_full_screen():
    sinks = make_sinks(Config.from_options().output, DisplayChoice("window", "test", fullscreen=True), source=None)
    assert isinstance(sinks[0], WindowSink) and sinks[0].fullscreen


# The DRM sink, with a fake picamera2 (the real one needs a Pi with a camera and a monitor).

class FakeRequest:
    def __init__(self, camera: FakeCamera) -> None:
        self.camera = camera

    def release(self) -> None:
        self.camera.released += 1


class FakeCamera:
    """Picamera2 as the DRM sink drives it, with its preview thread, which is also its event loop.

    DrmPreview draws each frame on that thread. When something else owns the screen, the draw fails
    there (picamera2 PR #965's trace), the thread dies before the request reaches whoever waits for it,
    and from then on no request comes and stop() waits for the dead thread forever (`hung`).
    """

    def __init__(self, fail_preview=False, fail_overlay=False, screen_taken=False):
        self.calls, self.overlays = [], []
        self.fail_preview, self.fail_overlay, self.screen_taken = fail_preview, fail_overlay, screen_taken
        self.preview: str | None = "null"  # what the source's camera runs: picamera2's null preview
        self.thread_alive, self.started, self.hung, self.released = True, True, False, 0
        self.waiting: list = []

    def stop(self):
        self.calls.append(("stop", (), {}))
        if self.preview is not None and not self.thread_alive:
            self.hung = True  # picamera2 hands stop_ to the event loop and waits for it
            return
        self.started = False

    def stop_preview(self):
        self.calls.append(("stop_preview", (), {}))
        if self.preview is None:
            raise RuntimeError("No preview specified.")
        self.preview = None

    def start_preview(self, preview=None, **window):
        self.calls.append(("start_preview", (preview,) if preview else (), window))
        if self.preview is not None:
            raise RuntimeError("An event loop is already running")
        if preview == "DRM" and self.fail_preview:
            raise RuntimeError("Failed to reserve DRM plane")
        self.preview, self.thread_alive = preview or "null", True

    def start(self):
        self.calls.append(("start", (), {}))
        self.started = True
        if self.preview == "DRM" and self.screen_taken:
            self.thread_alive = False  # the first frame's draw raised on the preview thread

    def capture_request(self, signal_function=None):
        job = FakeRequest(self)
        if self.started and self.thread_alive:
            signal_function(job)
        else:
            self.waiting.append(job)
        return job

    def wait(self, job):
        return job

    def cancel_all_and_flush(self):
        self.calls.append(("cancel_all_and_flush", (), {}))
        self.waiting = []

    def set_overlay(self, overlay):
        if self.fail_overlay:
            raise RuntimeError("overlay failed")
        self.overlays.append(overlay)


@pytest.fixture
def fake_picamera2(monkeypatch):
    module = types.ModuleType("picamera2")
    module.Preview = types.SimpleNamespace(DRM="DRM")
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return module


def update(index: int, new: bool = True) -> Update:
    result = Result(index, index / 30, 4.0, (Prediction("carving ice", 0.97),))
    return Update(Frame(np.zeros((480, 640, 3), np.uint8), index / 30, index), result, new, Status(model="m"))


def test_drm_sink_swaps_the_preview_and_draws_the_results(fake_picamera2):
    from utils.sinks.drm import DrmPreviewSink

    camera = FakeCamera()
    sink = DrmPreviewSink(camera, max_rate=1000)
    assert [name for name, _, _ in camera.calls] == ["stop", "stop_preview", "start_preview", "start"]
    assert camera.calls[2][1] == ("DRM",)
    assert camera.released == 1, "the first frame, which proves the preview draws, goes back to the camera"
    assert sink.write(update(1)) is None
    assert len(camera.overlays) == 1 and camera.overlays[0].shape == (480, 640, 4)
    sink.write(update(2, new=False))  # same result, rates redrawn only every `refresh` seconds
    assert len(camera.overlays) == 1
    sink.close()
    sink.close()
    assert [name for name, _, _ in camera.calls].count("stop_preview") == 2  # the swap, then close once


def test_drm_sink_limits_the_overlay_rate(fake_picamera2):
    from utils.sinks.drm import DrmPreviewSink

    camera = FakeCamera()
    sink = DrmPreviewSink(camera, max_rate=5)
    for i in range(20):
        sink.write(update(i))
    assert len(camera.overlays) == 1


def test_drm_sink_fails_softly_on_overlay_errors(fake_picamera2, caplog):
    from utils.sinks.drm import DrmPreviewSink

    camera = FakeCamera(fail_overlay=True)
    sink = DrmPreviewSink(camera, max_rate=1000)
    assert sink.write(update(1)) is None
    assert sink.write(update(2)) is None
    assert caplog.text.count("DRM overlay failed") == 1


def test_drm_sink_failure_restores_the_camera_and_says_what_to_do(fake_picamera2):
    from utils.sinks.drm import DrmPreviewSink

    camera = FakeCamera(fail_preview=True)
    with pytest.raises(ClassifierError, match="through DRM .*Failed to reserve DRM plane.*--display window"):
        DrmPreviewSink(camera)
    assert [name for name, _, _ in camera.calls][-2:] == ["start_preview", "start"]  # a null preview again


def test_drm_sink_on_a_taken_screen_is_one_clear_error_not_a_freeze(fake_picamera2):
    from utils.sinks.drm import DrmPreviewSink

    camera = FakeCamera(screen_taken=True)
    with pytest.raises(ClassifierError, match="through DRM: no frame within 0.05 s.*--display window"):
        DrmPreviewSink(camera, first_frame_timeout=0.05)
    assert [name for name, _, _ in camera.calls][-5:] == [
        "cancel_all_and_flush", "stop_preview", "stop", "start_preview", "start"]
    assert not camera.hung, "the dead preview must go before the camera is stopped"
    assert (camera.preview, camera.thread_alive, camera.started) == ("null", True, True), "frames flow again"
    camera.stop()  # what the source's close does next
    assert not camera.hung and not camera.started


def test_drm_ready_needs_no_pykms(fake_picamera2, monkeypatch):
    """picamera2 >= 0.3.17 draws through the pure-Python kms; where it imports, its DRM preview does."""
    cameras = [{"Model": "imx708", "Id": "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a", "Num": 0}]
    fake_picamera2.Picamera2 = types.SimpleNamespace(global_camera_info=lambda: cameras)
    monkeypatch.setitem(sys.modules, "pykms", None)  # import pykms raises ImportError
    assert drm_ready()
    cameras[0] = {"Model": "C920", "Id": "/base/scb/pcie@7d500000/pci@0,0/usb@0,0-1.2:1.0-046d:0825", "Num": 0}
    assert not drm_ready(), "a USB webcam has no DRM preview of the Pi camera"


class FakeCameraSource(SyntheticSource):
    """The Pi camera source's shape: frames plus the running camera the DRM preview swaps."""

    def __init__(self, camera) -> None:
        super().__init__()
        self.camera = camera
        self.description = "Pi camera 0"


def test_drm_needs_the_pi_camera():
    with SyntheticSource() as source:
        source.description = "video x.mp4"
        with pytest.raises(ClassifierError, match="--display drm needs the Pi camera, but the source is video x.mp4"):
            make_sinks(Config.from_options(display="drm").output, DisplayChoice("drm", "--display drm"), source)


def test_auto_falls_back_to_headless_when_drm_fails(fake_picamera2, caplog):
    source = FakeCameraSource(FakeCamera(fail_preview=True))
    sinks = make_sinks(Config.from_options().output, DisplayChoice("drm", "test"), source)
    assert kinds(sinks) == ["StatusLineSink"]
    assert "display: none (cannot show the camera" in caplog.text
    with pytest.raises(ClassifierError):
        make_sinks(Config.from_options(display="drm").output, DisplayChoice("drm", "--display drm"), source)


def test_a_preview_that_dies_mid_run_leaves_the_camera_running_headless(monkeypatch, caplog):
    """DrmPreview draws on picamera2's event-loop thread: when a draw raises (a compositor took the screen), the
    thread ends and no request completes again. The source notices, says so once, and reads on without it."""
    import fake_picamera2 as fake

    from utils.sinks.drm import DrmPreviewSink
    from utils.sources import Picamera2Source

    fake.reset()
    for name, module in fake.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    with Picamera2Source(640, 480, (172, 172), frame_timeout=600) as source:
        sink = DrmPreviewSink(source.camera)
        camera = fake.FakePicamera2.instances[0]
        assert camera._preview.kind == "DRM"
        first = source.read()
        camera._preview.fail(PermissionError(13, "Permission denied"))  # drmModeAtomicCommit, as the draw raises it
        assert not camera._preview.thread.is_alive()
        second = source.read()  # without the check, this would wait the whole frame_timeout and stop the run
        assert second.index == first.index + 1
        assert camera._preview.kind == "NULL" and camera._preview.thread.is_alive()
        assert caplog.text.count("preview on the monitor stopped ([Errno 13] Permission denied): going on without") == 1
        sink.write(update(3))  # the overlay goes to the null preview: nothing to see, nothing fails
        sink.close()


def desktop_image(root: Path, boots_to_desktop: bool = True) -> Path:
    """Raspberry Pi OS with a desktop: lightdm enabled as the display manager, graphical.target the default."""
    systemd = root / "etc/systemd/system"
    systemd.mkdir(parents=True, exist_ok=True)
    (systemd / "display-manager.service").symlink_to("/lib/systemd/system/lightdm.service")
    (systemd / "default.target").symlink_to(
        "/lib/systemd/system/" + ("graphical.target" if boots_to_desktop else "multi-user.target"))
    return root


def test_at_boot_a_desktop_image_waits_for_its_desktop_instead_of_taking_the_screen(tmp_path):
    """The service can start before labwc/Xwayland: DRM would then fight the compositor for the screen."""
    root = desktop_image(machine(tmp_path, x=()))
    looks = []

    def desktop_starts(seconds):  # Xwayland's socket appears at the third look
        looks.append(seconds)
        if len(looks) == 3:
            (root / "tmp/.X11-unix").mkdir(parents=True)
            (root / "tmp/.X11-unix/X0").touch()

    choice = choose_display(Config.from_options(), {}, root, FakeProbe(), lambda: True, desktop_wait=10,
                            sleep=desktop_starts)
    assert choice.name == "window" and choice.environ["DISPLAY"] == ":0" and len(looks) == 3


def test_at_boot_a_desktop_that_never_comes_means_no_drm(tmp_path):
    root = desktop_image(machine(tmp_path, x=()))
    looks = []
    choice = choose_display(Config.from_options(), {}, root, FakeProbe(), lambda: True, desktop_wait=10,
                            sleep=looks.append)
    assert choice.name == "none" and len(looks) == 5
    assert choice.reason.startswith("the desktop did not start within 10 s") and "--web" in choice.reason
    console = desktop_image(machine(tmp_path / "console", x=()), boots_to_desktop=False)  # boots to the console
    choice = choose_display(Config.from_options(), {}, console, FakeProbe(), lambda: True, sleep=looks.append)
    assert choice.name == "drm"
    assert len(looks) == 5


class FakeHighGui:
    """cv2's window calls (Qt scales each imshow to the window on the calling thread); records the images shown."""

    def __init__(self, monkeypatch) -> None:
        import cv2

        self.shown = []
        for name in ("namedWindow", "resizeWindow", "setWindowProperty", "destroyWindow"):
            monkeypatch.setattr(cv2, name, lambda *args: None)
        monkeypatch.setattr(cv2, "getWindowProperty", lambda *args: 1.0)
        monkeypatch.setattr(cv2, "imshow", lambda title, image: self.shown.append(image))
        monkeypatch.setattr(cv2, "waitKey", lambda delay: -1)


@pytest.mark.parametrize("fullscreen", [True, False])
def test_a_full_screen_window_is_refreshed_at_most_15_times_a_second(monkeypatch, fullscreen):
    """Two seconds of a 30 fps camera with a new result every 6th frame: full screen, a frame is shown when a
    new result comes or 1/15 s after the last one shown; a window that is not full screen shows them all."""
    highgui = FakeHighGui(monkeypatch)
    now = [0.0]
    sink = WindowSink(fullscreen=fullscreen, clock=lambda: now[0])
    shown = []
    for index in range(60):
        now[0] = index / 30
        before = sink.shown
        assert sink.write(update(index, new=index % 6 == 0)) is None
        if sink.shown > before:
            shown.append(index)
    assert len(highgui.shown) == len(shown)
    if not fullscreen:
        assert shown == list(range(60))
        return
    assert set(range(0, 60, 6)) <= set(shown), "a new result is always shown at once"
    gaps = [b - a for a, b in zip(shown, shown[1:])]
    assert all(gap <= 3 for gap in gaps), "never more than 1/15 s (2 frames, 3 with rounding) without a frame"
    assert all(gap >= 2 for a, gap in zip(shown, gaps) if (a + gap) % 6), "frames between results: 15 a second"
    assert 30 <= len(shown) <= 40
