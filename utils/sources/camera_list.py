"""--list-cameras: the Pi cameras (for --pi-camera) and the USB cameras (for --camera-id) this machine has."""

from __future__ import annotations

from pathlib import Path

from utils.sources.picamera import pi_camera_list, pi_cameras
from utils.sources.v4l2 import usb_cameras


def pi_camera_lines() -> list[str]:
    """One line per camera on a camera connector, numbered as --pi-camera counts them; or why there are none."""
    cameras = pi_camera_list()
    info = cameras.info
    lines = [f"  --pi-camera {number}: {info[index].get('Model', '?')} ({info[index].get('Id', '')})"
             for number, index in enumerate(pi_cameras(info))]
    return lines or [f"  none: {cameras.problem}"]


def list_cameras(root: Path = Path("/")) -> str:
    usb = [f"  --camera-id {node.number}: {node.name} (/dev/video{node.number})" for node in usb_cameras(root)]
    return "\n".join(["Pi cameras (picamera2):", *pi_camera_lines(),
                      "USB cameras (OpenCV):", *(usb or ["  none found"])])
