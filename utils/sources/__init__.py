"""Frame sources: the Pi camera (picamera2), USB cameras, video files and streams (OpenCV), synthetic frames.

open_source() is the one place that picks the hardware from the options.
"""

from __future__ import annotations

import logging

from utils.config import SourceOptions
from utils.errors import ClassifierError
from utils.sources.demand import Demand
from utils.sources.frame import Frame, FrameSource
from utils.sources.health import SourceHealth
from utils.sources.opencv import OpenCVSource, sampled_frames
from utils.sources.picamera import Picamera2Source, PiCameraList, pi_camera_list, picamera2_available
from utils.sources.prefetch import prefetched
from utils.sources.synthetic import SyntheticSource
from utils.sources.v4l2 import raw_camera_node

log = logging.getLogger(__name__)

__all__ = ["Frame", "FrameSource", "OpenCVSource", "PiCameraList", "Picamera2Source", "SourceHealth",
           "SyntheticSource", "is_live", "open_source", "pi_camera_list", "picamera2_available", "sampled_frames",
           "video_length"]


def is_live(source: FrameSource) -> bool:
    """A camera or a stream, not a video file (the Pi camera has no `live`: it is live)."""
    return getattr(source, "live", True)


def video_length(source: FrameSource | None) -> float:
    """Seconds of a video file, from its frame count and rate; 0 for a camera, a stream, or a file that does
    not say."""
    inner = getattr(source, "source", source)  # a file is read through a PrefetchSource
    if not isinstance(inner, OpenCVSource) or not inner.is_file or not inner.nominal_fps:
        return 0.0
    return inner.frame_count / inner.nominal_fps


def open_source(options: SourceOptions, model_size: tuple[int, int], demand: Demand | None = None,
                camera_fps: float | None = None, cameras: PiCameraList | None = None) -> FrameSource:
    """Picks the source from the flags: --video, --camera-id, --pi-camera, else the Pi camera, else camera 0.

    OpenCV sources are read on their own thread (picamera2 already captures on its own). With a `demand`,
    frames are sampled where they are read, and those nobody needs are not decoded. `camera_fps` is the
    Pi camera's frame rate (None: 30); `cameras` picamera2's list, when the caller asked for it already.
    """
    if options.video is not None:
        return prefetched(OpenCVSource(options.video, realtime=options.realtime), demand)
    if options.camera_id is not None:
        return prefetched(_usb_camera(options.camera_id, options), demand)
    cameras = cameras or pi_camera_list()
    problem = cameras.problem
    if problem is None or options.pi_camera is not None:
        if problem is not None:
            raise ClassifierError(f"--pi-camera {options.pi_camera}: {problem}")
        camera = Picamera2Source(options.width, options.height, model_size, options.pi_camera, camera_fps=camera_fps,
                                 cameras=cameras)
        camera.set_demand(demand)
        return camera
    log.debug("no Pi camera through picamera2 (%s); trying USB camera 0", problem)
    try:
        return prefetched(_usb_camera(0, options, problem), demand)
    except ClassifierError as e:
        if raw_camera_node(0):
            raise
        raise ClassifierError(
            "no camera found: no Pi camera (picamera2) and no USB camera 0; connect one, "
            "or classify a file with --video PATH") from e


def _usb_camera(number: int, options: SourceOptions, picamera2_problem: str | None = None) -> OpenCVSource:
    """/dev/video`number` through OpenCV, unless it is the Pi camera's raw receiver (raw Bayer, unreadable there)."""
    node = raw_camera_node(number)
    if node is not None:
        why = f"; but {picamera2_problem}" if picamera2_problem else ""
        raise ClassifierError(
            f"/dev/video{number} is the Pi camera's raw {node.driver} node, which gives Bayer data OpenCV cannot "
            f"show: read the Pi camera through picamera2 (--pi-camera N, see --list-cameras){why}")
    return OpenCVSource(number, options.width, options.height)
