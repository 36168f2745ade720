"""CPU temperature and load (psutil), read at most once a second because the reads are not free."""

from __future__ import annotations

import time

import psutil

_TEMPERATURE_SENSORS = ("cpu_thermal", "coretemp", "k10temp", "soc_thermal")


def cpu_temperature() -> float | None:
    """SoC/CPU temperature in °C, or None where the machine does not expose one."""
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
        psutil.cpu_percent(None)  # primes the counter: the first call always returns 0

    def read(self) -> tuple[float | None, float | None]:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._reading = (cpu_temperature(), psutil.cpu_percent(None))
        return self._reading
