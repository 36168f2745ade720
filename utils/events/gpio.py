"""--gpio LABEL=PIN: a GPIO pin driven high while that action's event lasts (an LED, a buzzer, a relay)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

from utils.config import ANY
from utils.errors import ClassifierError
from utils.events.event import Event

log = logging.getLogger(__name__)


class GpioOutput:
    """One gpiozero DigitalOutputDevice per pin; `any=PIN` follows every event.

    gpiozero picks the Pi's pin library (lgpio on current Raspberry Pi OS); GPIOZERO_PIN_FACTORY=mock gives
    its mock pins, which is how this is tested off a Pi.
    """

    def __init__(self, pins: Sequence[tuple[str, int]]) -> None:
        try:
            from gpiozero import DigitalOutputDevice
            from gpiozero.exc import GPIOZeroError
        except ImportError as e:
            raise ClassifierError("--gpio needs gpiozero: on Raspberry Pi OS run ./setup.sh (it installs "
                                  "python3-gpiozero), elsewhere pip install gpiozero") from e
        self.devices: dict[int, Any] = {}
        self.labels = {pin: label for label, pin in pins}
        try:
            with warnings.catch_warnings():  # gpiozero warns for every pin library it tries before one works
                warnings.simplefilter("ignore")
                for _, pin in pins:
                    self.devices[pin] = DigitalOutputDevice(pin, initial_value=False)
        except GPIOZeroError as e:
            self.close()
            raise ClassifierError(f"--gpio: cannot use GPIO pin {pin} ({e}); --gpio works on a Raspberry Pi "
                                  "with python3-gpiozero and python3-lgpio (./setup.sh installs them)") from e
        log.info("GPIO: %s", ", ".join(f"pin {pin} high during {label!r}" for label, pin in pins))

    def _pins_for(self, event: Event) -> list[int]:
        return [pin for pin, label in self.labels.items() if label in (event.label, ANY)]

    def on_start(self, event: Event) -> None:
        self._set(event, True)

    def on_end(self, event: Event) -> None:
        self._set(event, False)

    def _set(self, event: Event, high: bool) -> None:
        for pin in self._pins_for(event):
            try:
                self.devices[pin].value = high
            except Exception as e:  # a pin taken over by another program: warn, keep classifying
                log.warning("GPIO pin %d: cannot switch it %s: %s", pin, "on" if high else "off", e)

    def close(self) -> None:
        for device in self.devices.values():
            try:
                device.off()
                device.close()
            except Exception as e:
                log.debug("GPIO: closing a pin: %s", e)
        self.devices = {}
