"""Chooses where to show the video (--display), and finds the Pi's own desktop from an SSH session.

Over SSH there is no DISPLAY, but the monitor plugged into the Pi usually shows a desktop: an X server
(Xwayland under labwc/wayfire on Raspberry Pi OS Bookworm/Trixie, or Xorg) with a socket in
/tmp/.X11-unix. pip's OpenCV draws windows with Qt's xcb plugin only, so the window needs DISPLAY,
the desktop's XAUTHORITY cookie (Xorg, GNOME) or none (wlroots starts Xwayland without one), and
QT_QPA_PLATFORM=xcb. Each candidate is tried in a child process first, because Qt aborts the whole
process when it cannot connect. choose_display only reads what it is given, so tests fake the machine.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from utils.config import Config
from utils.errors import ClassifierError

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 20.0  # seconds; a Pi 3 takes a few to import OpenCV
DESKTOP_WAIT = 90.0   # seconds a run started at boot waits for the desktop the display manager is bringing up
DESKTOP_POLL = 2.0    # seconds between looks for it
MAX_PROBES = 4        # each costs about a second on a Pi
# A window that opens, shows two pixels and closes: what the window sink will do, minus the video.
PROBE = ("import cv2, numpy; cv2.namedWindow('probe', cv2.WINDOW_NORMAL); "
         "cv2.imshow('probe', numpy.zeros((2, 2, 3), numpy.uint8)); cv2.waitKey(50); "
         "cv2.destroyAllWindows(); cv2.waitKey(1)")

Probe = Callable[[Mapping[str, str]], "str | None"]


@dataclass(frozen=True)
class DisplayChoice:
    """Where the video goes, why (for the startup line), and what the window needs set before it opens."""

    name: str  # window, drm, web or none
    reason: str
    environ: Mapping[str, str] = field(default_factory=dict)
    fullscreen: bool = False  # a window on a desktop found from outside it (SSH): nobody there to enlarge it


@dataclass(frozen=True)
class XDisplay:
    """An X server to try, and how to reach it."""

    display: str               # ":0"
    xauthority: str | None     # None: leave XAUTHORITY as it is
    where: str                 # for the log, e.g. "the desktop on :0 (user pi)"
    found: bool                # found by looking (not our own DISPLAY): open it full screen

    @property
    def environ(self) -> dict[str, str]:
        env = {"DISPLAY": self.display, "QT_QPA_PLATFORM": "xcb"}
        if self.xauthority:
            env["XAUTHORITY"] = self.xauthority
        return env


def probe_window(environ: Mapping[str, str], timeout: float = PROBE_TIMEOUT) -> str | None:
    """Opens a tiny window in a child process: None when it worked, else the first line of what went wrong."""
    try:
        done = subprocess.run([sys.executable, "-c", PROBE], env=dict(environ), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"no window within {timeout:g} s"
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return lines[0][:160] if lines else f"the test window exited with code {done.returncode}"


def _users(root: Path) -> dict[int, tuple[str, Path]]:
    """uid -> (name, home) from etc/passwd."""
    users: dict[int, tuple[str, Path]] = {}
    try:
        text = (root / "etc/passwd").read_text(errors="replace")
    except OSError:
        return users
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 6 and parts[2].isdigit():
            users[int(parts[2])] = (parts[0], Path(parts[5]))
    return users


def _session_uids(root: Path, socket: Path) -> list[int]:
    """Who may own the desktop: the X socket's owner (Xwayland runs as the user), then logged-in users."""
    uids = []
    try:
        owner = socket.stat().st_uid
        if owner:
            uids.append(owner)
    except OSError:
        pass
    runtime = root / "run/user"
    if runtime.is_dir():
        uids += sorted(int(p.name) for p in runtime.iterdir() if p.name.isdigit() and int(p.name) >= 1000)
    return list(dict.fromkeys(uids))


def _cookies(root: Path, uid: int, home: Path | None) -> list[Path]:
    """The X authority files a desktop session of this user may have, newest kinds first."""
    runtime = root / "run/user" / str(uid)
    candidates = [root / home.relative_to("/") / ".Xauthority"] if home and home.is_absolute() else []
    for pattern in (".mutter-Xwaylandauth.*", "xauth_*", "gdm/Xauthority"):  # GNOME, KDE/SDDM, GDM
        candidates += sorted(runtime.glob(pattern)) if runtime.is_dir() else []
    return [path for path in candidates if path.is_file()]


def _is_local(display: str) -> bool:
    """':0' or 'unix:0' is this machine's screen; 'localhost:10.0' is forwarded over SSH (ssh -X)."""
    return display.startswith(":") or display.startswith("unix:")


def x_sockets(root: Path) -> list[tuple[str, Path]]:
    """(":N", socket) for each X server listening on this machine."""
    found = []
    directory = root / "tmp/.X11-unix"
    if directory.is_dir():
        for path in directory.iterdir():
            match = re.fullmatch(r"X(\d+)", path.name)
            if match:
                found.append((int(match.group(1)), path))
    return [(f":{number}", path) for number, path in sorted(found)]


def wayland_running(environ: Mapping[str, str], root: Path) -> bool:
    runtime = root / "run/user"
    return bool(environ.get("WAYLAND_DISPLAY")) or (runtime.is_dir() and any(runtime.glob("*/wayland-[0-9]")))


def x_candidates(environ: Mapping[str, str], root: Path) -> list[XDisplay]:
    """The X displays to try, best first: our own DISPLAY, then the desktops on this machine, then ssh -X."""
    own = environ.get("DISPLAY", "")
    candidates = []
    if own and _is_local(own):
        candidates.append(XDisplay(own, None, f"DISPLAY={own}", found=False))
    users = _users(root)
    for display, socket in x_sockets(root):
        if own and _is_local(own) and own.split(".")[0].replace("unix", "") == display:
            continue
        cookies: list[tuple[Path | None, str]] = []
        if environ.get("XAUTHORITY"):
            cookies.append((Path(environ["XAUTHORITY"]), ""))
        for uid in _session_uids(root, socket):
            name, home = users.get(uid, (str(uid), None))
            cookies += [(path, f", user {name}") for path in _cookies(root, uid, home)]
        cookies.append((None, ""))  # wlroots' Xwayland asks for no cookie
        seen = set()
        for path, user in cookies:
            if path in seen:
                continue
            seen.add(path)
            auth = f", XAUTHORITY={path}" if path else ""
            candidates.append(XDisplay(display, str(path) if path else None,
                                       f"the desktop on {display}{user}{auth}", found=True))
    if own and not _is_local(own):
        candidates.append(XDisplay(own, None, f"DISPLAY={own} (forwarded over SSH: slow)", found=False))
    return candidates


def find_window(environ: Mapping[str, str], root: Path, probe: Probe) -> tuple[XDisplay | None, list[str]]:
    """The first X display where a window really opens, and what went wrong with the others."""
    failures: list[str] = []
    for candidate in x_candidates(environ, root)[:MAX_PROBES]:
        error = probe({**environ, **candidate.environ})
        if error is None:
            return candidate, failures
        log.debug("no window on %s: %s", candidate.where, error)
        failures.append(f"{candidate.where}: {error}")
    return None, failures


def connected_screens(root: Path = Path("/")) -> list[tuple[str, tuple[int, int] | None]]:
    """(connector, (width, height) of its preferred mode) for each monitor plugged in, from the kernel's DRM."""
    screens = []
    for connector in sorted((root / "sys/class/drm").glob("card*-*")):
        try:
            if (connector / "status").read_text().strip() != "connected":
                continue
            modes = (connector / "modes").read_text().split()
        except OSError:
            continue
        match = re.match(r"(\d+)x(\d+)", modes[0]) if modes else None
        screens.append((connector.name.split("-", 1)[1], (int(match[1]), int(match[2])) if match else None))
    return screens


def drm_ready() -> bool:
    """picamera2 imports and sees a Pi camera.

    That is enough: picamera2 imports its DRM preview, and with it kms (pure Python, picamera2 >= 0.3.17)
    or pykms (python3-kms++), so it does not import at all without one of them.
    """
    from utils.sources.picamera import picamera2_available

    return picamera2_available()


def desktop_expected(root: Path) -> bool:
    """A desktop image that boots to its desktop: a display manager is enabled and the default target is graphical.

    Started at boot, the service can run before labwc/Xwayland is up; taking the screen through DRM then
    fights the compositor when it arrives, so a desktop on its way counts as a desktop.
    """
    systemd = root / "etc/systemd/system"
    default = systemd / "default.target"
    graphical = not default.is_symlink() or os.readlink(default).endswith("graphical.target")
    return (systemd / "display-manager.service").is_symlink() and graphical


def wait_for_desktop(environ: Mapping[str, str], root: Path, probe: Probe, wait: float,
                     sleep: Callable[[float], None]) -> tuple[XDisplay | None, list[str]]:
    """Looks for the desktop every DESKTOP_POLL seconds for up to `wait` seconds; a window on it once it is up."""
    failures: list[str] = []
    for _ in range(math.ceil(wait / DESKTOP_POLL)):  # counted, not timed: a slow probe only makes it longer
        sleep(DESKTOP_POLL)
        if x_sockets(root) or wayland_running(environ, root):
            found, failures = find_window(environ, root, probe)
            if found:
                return found, failures
    return None, failures


def _no_window(environ: Mapping[str, str], root: Path, failures: list[str]) -> str:
    if failures:
        return "no window opened (" + "; ".join(failures) + ")"
    if wayland_running(environ, root):
        return "a Wayland desktop without Xwayland (OpenCV windows need X)"
    return "no desktop (DISPLAY is unset and /tmp/.X11-unix has no X server)"


def choose_display(config: Config, environ: Mapping[str, str] | None = None, root: Path = Path("/"),
                   probe: Probe = probe_window, drm: Callable[[], bool] = drm_ready, desktop_wait: float = DESKTOP_WAIT,
                   sleep: Callable[[float], None] = time.sleep) -> DisplayChoice:
    """Picks the display for --display; `auto` tries a window, then the DRM preview, then headless.

    `environ`, `root` (where /tmp, /run, /etc and /sys are looked up), `probe`, `drm` and `sleep` are the
    machine; tests pass fakes. On a desktop image whose desktop is not up yet, `auto` waits `desktop_wait`
    seconds for it.
    """
    env = os.environ if environ is None else environ
    if config.output.display in ("none", "web"):
        return DisplayChoice(config.output.display, f"--display {config.output.display}")
    if config.output.display == "drm":
        if not config.source.uses_pi_camera:
            raise ClassifierError("--display drm shows the Pi camera's own preview, so it cannot show --video or "
                                  "--camera-id; use --display window or --display web")
        return DisplayChoice("drm", "--display drm")

    found, failures = find_window(env, root, probe)
    desktop = bool(x_sockets(root)) or wayland_running(env, root)
    coming = not found and not desktop and config.output.display == "auto" and desktop_expected(root)
    if coming:
        log.info("display: waiting up to %g s for the desktop to start (display-manager.service)", desktop_wait)
        found, failures = wait_for_desktop(env, root, probe, desktop_wait, sleep)
    if found:
        prefix = "--display window: " if config.output.display == "window" else ""
        full = ", full screen (f toggles it, q quits)" if found.found else ""
        return DisplayChoice("window", f"{prefix}a window on {found.where}{full}", found.environ, found.found)
    why = _no_window(env, root, failures)
    if config.output.display == "window":
        raise ClassifierError(f"--display window: cannot open a window: {why}; run it on the Pi's desktop, "
                              "or use --display drm (Pi camera, no desktop), --display web or --display none")
    if coming:
        why = f"the desktop did not start within {desktop_wait:g} s ({why}), and it will own the screen"
    elif config.source.uses_pi_camera and not desktop and connected_screens(root) and drm():
        return DisplayChoice("drm", f"{why}; the Pi camera's preview straight to the monitor")
    return DisplayChoice("none", f"{why}; add --web to watch in a browser")
