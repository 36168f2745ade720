"""CPU temperature and load (psutil), read at most once a second because the reads are not free; Pi throttling."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

_TEMPERATURE_SENSORS = ("cpu_thermal", "coretemp", "k10temp", "soc_thermal")

# Bits of the Pi firmware's get_throttled word: the low ones are "now", the high ones "since boot".
THROTTLED_BITS = {
    0: "under_voltage", 1: "frequency_capped", 2: "throttled", 3: "soft_temperature_limit",
    16: "under_voltage_occurred", 17: "frequency_capped_occurred", 18: "throttled_occurred",
    19: "soft_temperature_limit_occurred",
}
# The firmware driver's device: soc:firmware on a Pi 4, soc@107c000000:firmware on a Pi 5.
FIRMWARE_DRIVER = "sys/bus/platform/drivers/raspberrypi-firmware"


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
    """The throttling flags from the kernel (where there is no vcgencmd, e.g. Ubuntu), or None.

    The kernel refreshes this value every 2 s and clears the "occurred" bits each time, so those cover
    the last few seconds, not the time since boot.
    """
    for path in sorted((root / FIRMWARE_DRIVER).glob("*/get_throttled")):
        try:
            return parse_throttled(path.read_text())
        except (OSError, ValueError):
            continue
    return None
