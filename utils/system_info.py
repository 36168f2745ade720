"""CPU temperature and load (psutil), read at most once a second because the reads are not free; Pi throttling."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_TEMPERATURE_SENSORS = ("cpu_thermal", "coretemp", "k10temp", "soc_thermal")

# Bits of the Pi firmware's get_throttled word: the low ones are "now", the high ones "since boot".
THROTTLED_BITS = {
    0: "under_voltage", 1: "frequency_capped", 2: "throttled", 3: "soft_temperature_limit",
    16: "under_voltage_occurred", 17: "frequency_capped_occurred", 18: "throttled_occurred",
    19: "soft_temperature_limit_occurred",
}


def cpu_temperature() -> float | None:
    """SoC/CPU temperature in °C, or None where the machine does not expose one."""
    import psutil  # imported where used: a headless run never reads the CPU

    read = getattr(psutil, "sensors_temperatures", None)
    try:
        sensors = read() if read else {}
    except OSError:
        return None
    for name in _TEMPERATURE_SENSORS:
        if sensors.get(name):
            return float(sensors[name][0].current)
    return None


class CpuMonitor:
    """Cached (temperature, system CPU %) for the overlay."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._last = -float("inf")
        self._reading: tuple[float | None, float | None] = (None, None)
        import psutil

        self._psutil = psutil
        psutil.cpu_percent(None)  # primes the counter: the first call always returns 0

    def read(self) -> tuple[float | None, float | None]:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._reading = (cpu_temperature(), self._psutil.cpu_percent(None))
        return self._reading


def parse_throttled(text: str) -> dict[str, object]:
    """'throttled=0x50005' (vcgencmd) or '50005' (sysfs) -> the raw word and one flag per bit."""
    value = int(text.strip().rpartition("=")[2], 16)
    return {"raw": hex(value), **{name: bool(value >> bit & 1) for bit, name in THROTTLED_BITS.items()}}


def pi_throttled() -> dict[str, object] | None:
    """The Pi's under-voltage and throttling flags (`vcgencmd get_throttled`), or None off a Pi."""
    vcgencmd = shutil.which("vcgencmd")
    if vcgencmd:
        try:
            done = subprocess.run([vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=2)
            if done.returncode == 0 and "=" in done.stdout:
                return parse_throttled(done.stdout)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
    return sysfs_throttled()


def sysfs_throttled(root: Path = Path("/")) -> dict[str, object] | None:
    """Under-voltage from the kernel's rpi_volt hwmon sensor (where there is no vcgencmd, e.g. Ubuntu), or None.

    Its in0_lcrit_alarm is the firmware's under-voltage bit, read by the kernel every 2 s
    (drivers/hwmon/raspberrypi-hwmon.c). The firmware driver's own get_throttled file is not read: each
    read logs a kernel warning and taints the kernel (drivers/firmware/raspberrypi.c). The other flags
    (frequency capped, throttled) are only known through vcgencmd.
    """
    for hwmon in sorted((root / "sys/class/hwmon").glob("hwmon*")):
        try:
            if (hwmon / "name").read_text().strip() != "rpi_volt":
                continue
            alarm = (hwmon / "in0_lcrit_alarm").read_text().strip()
        except OSError:
            continue
        return {"raw": f"in0_lcrit_alarm={alarm}", "under_voltage": alarm == "1"}
    return None


THROTTLING_NOW = {"under_voltage": "under-voltage", "frequency_capped": "frequency capped",
                  "throttled": "throttled", "soft_temperature_limit": "soft temperature limit"}


class ThrottleWatch:
    """Logs when the Pi starts and stops being throttled or short of voltage, looking every `interval` seconds
    on a daemon thread (a vcgencmd call costs a few ms); off a Pi it does nothing."""

    def __init__(self, read: Callable[[], dict[str, object] | None] = pi_throttled, interval: float = 10.0) -> None:
        self.read, self.interval = read, interval
        self._now: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self, flags: dict[str, object] | None = None) -> None:
        """One look (at `flags` when they were just read): a line when the set of current problems changes."""
        flags = (flags if flags is not None else self.read()) or {}
        now = tuple(text for name, text in THROTTLING_NOW.items() if flags.get(name))
        if now and now != self._now:
            log.warning("the Pi is being slowed down: %s (%s); check the power supply (a Pi 4 needs 5 V 3 A, a "
                        "Pi 5 5 V 5 A) and the cooling", ", ".join(now), flags.get("raw"))
        elif self._now and not now:
            log.info("the Pi is no longer slowed down (%s)", flags.get("raw"))
        self._now = now

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def __enter__(self) -> ThrottleWatch:
        flags = self.read()
        if flags is not None:  # a Pi: the first look is this reading
            self.check(flags)
            self._thread = threading.Thread(target=self._loop, name="throttle-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


# The groups that own the camera's and the screen's devices on Raspberry Pi OS: video (/dev/media*, /dev/video*,
# /dev/dma_heap/*, /dev/dri/card*) and render (/dev/dri/renderD*).
DEVICE_GROUPS = ("video", "render")


def missing_groups(root: Path = Path("/"), member_of: set[int] | None = None,
                   names: tuple[str, ...] = DEVICE_GROUPS) -> list[str]:
    """The device groups that exist here (etc/group) but this process is not in (root is in all of them)."""
    if member_of is None:
        if os.geteuid() == 0:
            return []
        member_of = {os.getegid(), *os.getgroups()}
    try:
        lines = (root / "etc/group").read_text(errors="replace").splitlines()
    except OSError:
        return []
    gids = {parts[0]: int(parts[2]) for parts in (line.split(":") for line in lines)
            if len(parts) >= 3 and parts[2].isdigit()}
    return [name for name in names if name in gids and gids[name] not in member_of]
