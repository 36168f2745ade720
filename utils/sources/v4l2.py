"""The kernel's video devices: which /dev/videoN is a USB camera, which is the Pi camera's raw node, and who holds them.

Everything is read from sysfs and /proc (no ioctl), under a `root` that tests replace with a fake tree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# Drivers of the Pi camera's receiver: their /dev/videoN nodes give raw Bayer, which OpenCV cannot show.
# unicam: Pi 0-4 (drivers/media/platform/bcm2835/bcm2835-unicam.c);
# rp1-cfe: Pi 5 (drivers/media/platform/raspberrypi/rp1_cfe).
RAW_CAMERA_DRIVERS = ("unicam", "rp1-cfe")
USB_CAMERA_DRIVER = "uvcvideo"
CAMERA_DEVICES = re.compile(r"/dev/(media|video)\d+")


@dataclass(frozen=True)
class VideoNode:
    """One /dev/videoN as sysfs describes it."""

    number: int
    name: str    # the card name, e.g. "HD Pro Webcam C920" or "rp1-cfe-csi2_ch0"
    driver: str  # the kernel driver, e.g. "uvcvideo", "unicam", "rp1-cfe"
    index: int   # 0 for a device's first node (UVC adds a metadata node at index 1)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def video_nodes(root: Path = Path("/")) -> list[VideoNode]:
    """Every /dev/videoN, by number."""
    nodes = []
    for path in (root / "sys/class/video4linux").glob("video*"):
        match = re.fullmatch(r"video(\d+)", path.name)
        if not match:
            continue
        try:
            driver = os.path.basename(os.readlink(path / "device/driver"))
        except OSError:
            driver = ""
        index = _read(path / "index")
        nodes.append(VideoNode(int(match[1]), _read(path / "name"), driver, int(index) if index.isdigit() else 0))
    return sorted(nodes, key=lambda node: node.number)


def usb_cameras(root: Path = Path("/")) -> list[VideoNode]:
    """The USB (UVC) cameras, one node each: what --camera-id N opens."""
    return [node for node in video_nodes(root) if node.driver == USB_CAMERA_DRIVER and node.index == 0]


def raw_camera_node(number: int, root: Path = Path("/")) -> VideoNode | None:
    """The node when /dev/video`number` is the Pi camera's raw receiver (unicam, rp1-cfe), else None."""
    return next((node for node in video_nodes(root) if node.number == number and node.driver in RAW_CAMERA_DRIVERS),
                None)


def camera_holders(root: Path = Path("/"), own_pid: int | None = None) -> list[tuple[int, str]]:
    """(pid, program name) of the other processes holding a /dev/media* or /dev/video* open.

    Reads /proc/*/fd, as fuser does; without root only this user's processes can be seen, so an empty
    list means "none that we can see".
    """
    own = os.getpid() if own_pid is None else own_pid
    holders = []
    for process in (root / "proc").iterdir() if (root / "proc").is_dir() else ():
        if not process.name.isdigit() or int(process.name) == own:
            continue
        try:
            targets = [os.readlink(fd) for fd in (process / "fd").iterdir()]
        except OSError:  # another user's process, or it just ended
            continue
        if any(CAMERA_DEVICES.fullmatch(target) for target in targets):
            holders.append((int(process.name), _read(process / "comm") or "?"))
    return sorted(holders)
