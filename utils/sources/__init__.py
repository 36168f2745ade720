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
from utils.sources.picamera import Picamera2Source, picamera2_available
from utils.sources.prefetch import prefetched
from utils.sources.synthetic import SyntheticSource

log = logging.getLogger(__name__)

__all__ = ["Frame", "FrameSource", "OpenCVSource", "Picamera2Source", "SourceHealth", "SyntheticSource",
           "open_source", "picamera2_available", "sampled_frames", "video_length"]


def video_length(source: FrameSource | None) -> float:
    """Seconds of a video file, from its frame count and rate; 0 for a camera, a stream, or a file that does
    not say."""
    inner = getattr(source, "source", source)  # a file is read through a PrefetchSource
    if not isinstance(inner, OpenCVSource) or not inner.is_file or not inner.nominal_fps:
        return 0.0
    return inner.frame_count / inner.nominal_fps


def open_source(options: SourceOptions, model_size: tuple[int, int], demand: Demand | None = None) -> FrameSource:
    """Picks the source from the flags: --video, --camera-id, else the Pi camera, else camera 0.

    OpenCV sources are read on their own thread (picamera2 already captures on its own). With a `demand`,
    frames are sampled where they are read, and those nobody needs are not decoded.
    """
    if options.video is not None:
        return prefetched(OpenCVSource(options.video, realtime=options.realtime), demand)
    if options.camera_id is not None:
        return prefetched(OpenCVSource(options.camera_id, options.width, options.height), demand)
    if picamera2_available():
        camera = Picamera2Source(options.width, options.height, model_size)
        camera.set_demand(demand)
        return camera
    log.debug("no Pi camera found through picamera2; trying USB camera 0")
    try:
        return prefetched(OpenCVSource(0, options.width, options.height), demand)
    except ClassifierError as e:
        raise ClassifierError(
            "no camera found: no Pi camera (picamera2) and no USB camera 0; connect one, "
            "or classify a file with --video PATH") from e
