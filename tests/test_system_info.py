"""The Pi's throttling flags (the kernel's rpi_volt sensor, vcgencmd's word) and what the running app says of them;
the device groups the camera needs."""

from __future__ import annotations

import logging

from utils.system_info import ThrottleWatch, missing_groups, parse_throttled, sysfs_throttled


def hwmon(root, number: int, name: str, alarm: str | None = None) -> None:
    """/sys/class/hwmon/hwmonN as drivers/hwmon/raspberrypi-hwmon.c registers it ("rpi_volt", in0_lcrit_alarm)."""
    node = root / f"sys/class/hwmon/hwmon{number}"
    node.mkdir(parents=True)
    (node / "name").write_text(name + "\n")
    if alarm is not None:
        (node / "in0_lcrit_alarm").write_text(alarm + "\n")


def test_under_voltage_from_the_hwmon_sensor(tmp_path):
    hwmon(tmp_path, 0, "cpu_thermal")
    hwmon(tmp_path, 1, "rpi_volt", "1")
    assert sysfs_throttled(tmp_path) == {"raw": "in0_lcrit_alarm=1", "under_voltage": True}
    (tmp_path / "sys/class/hwmon/hwmon1/in0_lcrit_alarm").write_text("0\n")
    assert sysfs_throttled(tmp_path) == {"raw": "in0_lcrit_alarm=0", "under_voltage": False}


def test_no_sensor_is_no_flags(tmp_path):
    hwmon(tmp_path, 0, "coretemp")
    assert sysfs_throttled(tmp_path) is None


def test_throttling_is_logged_when_it_starts_and_when_it_ends(caplog):
    words = iter(["0x0", "0x50005", "0x50005", "0x50000", "0x0"])  # vcgencmd: under-voltage and throttled, then over
    watch = ThrottleWatch(lambda: parse_throttled(next(words)))
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            watch.check()
    lines = caplog.text.splitlines()
    assert len(lines) == 2
    assert "slowed down: under-voltage, throttled (0x50005); check the power supply" in lines[0]
    assert "no longer slowed down (0x50000)" in lines[1]


def test_the_watch_reads_the_flags_once_at_start(tmp_path, caplog):
    hwmon(tmp_path, 0, "rpi_volt", "1")
    reads = []

    def read():
        reads.append(sysfs_throttled(tmp_path))
        return reads[-1]

    with caplog.at_level(logging.WARNING), ThrottleWatch(read, interval=600) as watch:
        assert len(reads) == 1 and watch._thread is not None
    assert "slowed down: under-voltage (in0_lcrit_alarm=1)" in caplog.text


def test_off_a_pi_the_watch_starts_no_thread():
    with ThrottleWatch(lambda: None) as watch:
        assert watch._thread is None


def test_missing_device_groups(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/group").write_text("root:x:0:\nvideo:x:44:pi\nrender:x:105:pi\npi:x:1000:\n")
    assert missing_groups(tmp_path, member_of={1000}) == ["video", "render"]
    assert missing_groups(tmp_path, member_of={1000, 44}) == ["render"]
    assert missing_groups(tmp_path, member_of={1000, 44, 105}) == []
