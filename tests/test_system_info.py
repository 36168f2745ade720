"""The Pi's throttling flags from sysfs, on fake /sys trees laid out as a Pi 4's and a Pi 5's kernel has them."""

from __future__ import annotations

import pytest

from utils.system_info import sysfs_throttled


def firmware_device(root, device: str, value: str) -> None:
    """The firmware device under /sys/devices and the driver's link to it, as the kernel makes them."""
    node = root / "sys/devices/platform" / device
    node.mkdir(parents=True)
    (node / "get_throttled").write_text(value)
    driver = root / "sys/bus/platform/drivers/raspberrypi-firmware"
    driver.mkdir(parents=True)
    (driver / node.name).symlink_to(node)


@pytest.mark.parametrize("device", ["soc/soc:firmware", "soc@107c000000/soc@107c000000:firmware"])
def test_throttled_flags_from_sysfs_on_a_pi_4_and_a_pi_5(tmp_path, device):
    firmware_device(tmp_path, device, "50005\n")
    flags = sysfs_throttled(tmp_path)
    assert flags is not None and flags["raw"] == "0x50005" and flags["under_voltage"]


def test_no_firmware_device_is_no_flags(tmp_path):
    assert sysfs_throttled(tmp_path) is None
