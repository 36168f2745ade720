"""USB/V4L2 cameras, video files and RTSP/HTTP streams, read through OpenCV."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import cv2
import numpy as np

from utils.errors import ClassifierError
from utils.native_stderr import native_stderr_to_log
from utils.paths import where_looked
from utils.regular_file import NotAFileError, open_regular, read_at_most
from utils.sampler import FrameSampler
from utils.sources.demand import Demand
from utils.sources.frame import ClosingSource, Frame

log = logging.getLogger(__name__)

# Every blocking call on a network stream ends: a server that does not answer fails the open after
# OPEN_TIMEOUT_S, one that stops sending fails the read after READ_TIMEOUT_S (FFmpeg's default is 30 s).
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 5.0
ABANDON_WAIT_S = 1.0  # a stop waits this long for an open under way (files and cameras open in milliseconds)
# A file that ends before this share of the frames its container announces was cut short or damaged.
COMPLETE_SHARE = 0.9
TEXT_CODECS = {"ansi"}  # FFmpeg's "tty" demuxer shows any text file as a video of rendered characters
JPEG_CODECS = {"mjpg", "mjpeg"}  # every frame a JPEG: read undecoded, decoded only when wanted


def capture_params(**values: int) -> list[int]:
    """[property, value, ...] for the CAP_PROP_<name> this OpenCV has: 4.6 (Debian's, on 32-bit Pi OS) has no
    CAP_PROP_N_THREADS, and older ones no timeouts (then FFmpeg's own 30 s apply)."""
    params: list[int] = []
    for name, value in values.items():
        if (prop := getattr(cv2, f"CAP_PROP_{name}", None)) is not None:
            params += [prop, value]
    return params


def is_url(spec: str) -> bool:
    return "://" in spec


# The first bytes of the containers a video file comes in (MP4/MOV at offset 4, Matroska/WebM, AVI): a file that
# starts like one but will not open is a damaged or cut short video, not an unknown format.
VIDEO_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (8, b"AVI "))


def video_path_problem(path: Path) -> str | None:
    """What stops `path` from being read as a video file, or None. Never blocks on a FIFO."""
    try:
        with open_regular(path) as file:
            head = file.read(16)
    except FileNotFoundError:  # `--video 0`, as cv2.VideoCapture(0) would take it: a camera's number
        camera = f"; for camera {path}, give --camera-id {path}" if str(path).isdigit() else where_looked(path)
        return f"video file not found: {path}{camera}"
    except IsADirectoryError:
        return f"video {path} is a folder; give a video file inside it"
    except NotAFileError as e:
        return (f"video {path} {e.strerror}; save the video to a file first "
                "(or give a camera with --camera-id, a stream with its URL)")
    except OSError as e:
        return f"cannot read video {path}: {e.strerror or e}"
    # FFmpeg reads a photo as a video of one frame; an animated GIF (GIF8...) is a video.
    if not head.startswith(b"GIF8") and cv2.haveImageReader(str(path)):
        return f"{path} is a still image, not a video; give a video file, a camera or a stream"
    return None


def looks_like_video(path: Path) -> bool:
    """Whether the file starts as a video container does (False when it cannot be read)."""
    try:
        head = read_at_most(path, 15)
    except OSError:
        return False
    return any(head[at:at + len(magic)] == magic for at, magic in VIDEO_SIGNATURES)


def file_url_path(spec: str) -> Path | None:
    """The local path of a file:// URL, else None."""
    parts = urlsplit(spec)
    return Path(url2pathname(parts.path)) if parts.scheme.lower() == "file" else None


def open_interruptibly(open_capture: Callable[[], cv2.VideoCapture]) -> cv2.VideoCapture:
    """Opens on a helper thread, so Ctrl-C and SIGTERM reach the caller while a slow server keeps the open waiting.

    A signal handler that raises first waits a little for the helper and releases what it opened: a daemon thread
    that comes back from OpenCV while Python exits is ended from inside native code, and the process aborts
    ("terminate called without an active exception"). A server that keeps the open waiting is left to it: that
    thread stays inside FFmpeg until the process is gone.
    """
    outcome: list[cv2.VideoCapture | BaseException] = []
    finished = threading.Event()  # set once the helper has left OpenCV's code

    def opener() -> None:
        try:
            outcome.append(open_capture())
        except BaseException as e:  # handed to the caller's thread
            outcome.append(e)
        finally:
            finished.set()

    helper = threading.Thread(target=opener, name="open-capture", daemon=True)
    try:
        helper.start()  # (a signal can come while start() waits for the thread)
        while not finished.wait(0.1):
            pass
    except BaseException:
        if finished.wait(ABANDON_WAIT_S) and isinstance(outcome[0], cv2.VideoCapture):
            outcome[0].release()
        raise
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


class OpenCVSource(ClosingSource):
    """A USB/V4L2 camera (int id), a video file or an RTSP/HTTP URL, read through OpenCV.

    A URL whose container announces its length (an .mp4 over HTTP, a file:// URL) is a file like a local one:
    frames keep container timestamps, none is dropped, and its end is the end of the run. Cameras and live
    streams are stamped on arrival with a monotonic clock.
    """

    def __init__(self, spec: int | str, width: int = 640, height: int = 480, realtime: bool = False) -> None:
        self.spec = spec
        self.width, self.height = width, height
        self.is_camera = isinstance(spec, int)
        self.is_url = not self.is_camera and is_url(str(spec))
        if not self.is_camera:
            path = file_url_path(str(spec)) if self.is_url else Path(str(spec))
            if path is not None and (problem := video_path_problem(path)):
                raise ClassifierError(problem)
        with native_stderr_to_log():  # OpenCV prints its own warnings for a missing camera
            self._capture = open_interruptibly(self._open)
        if not self._capture.isOpened():
            self._capture.release()
            raise ClassifierError(self._open_error())
        frame_count = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(frame_count) if 0 < frame_count < 1e12 else 0  # live streams say -2**63 or 0
        self.is_file = not self.is_camera and (not self.is_url or self.frame_count > 0)
        self.realtime = realtime and self.is_file
        if self.is_file and self.codec in TEXT_CODECS:
            self._capture.release()
            raise ClassifierError(f"{spec} is a text file, not a video")
        if self.is_camera:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queue
        self.nominal_fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        size = f"{int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        kind = "camera" if self.is_camera else "video" if self.is_file else "stream"
        self.description = f"{kind} {spec} ({size}, {self.nominal_fps:.1f} fps)"
        self._index = 0
        self._start: float | None = None
        self._ended = False
        self._closed = False
        self._demand: Demand | None = None
        self._jpeg_packets = False

    def set_demand(self, demand: Demand | None) -> None:
        """Before the first read. For Motion-JPEG through FFmpeg (most USB cameras' format, also in files
        and HTTP streams) grab() would decode every frame; in FFmpeg's raw mode it only reads the packet,
        and the frames that are wanted are decoded here, each a JPEG of its own."""
        self._demand = demand
        self._jpeg_packets = (demand is not None and not self.is_camera and self.codec in JPEG_CODECS
                              and self._capture.getBackendName() == "FFMPEG"
                              and self._capture.set(cv2.CAP_PROP_FORMAT, -1))

    def reopen(self) -> OpenCVSource:
        """A fresh capture of the same camera or stream (after it failed), with the same demand."""
        source = OpenCVSource(self.spec, self.width, self.height, self.realtime)
        source.set_demand(self._demand)
        return source

    def _open(self) -> cv2.VideoCapture:
        if self.is_camera:
            return cv2.VideoCapture(self.spec)
        if self.is_url:
            timeouts = capture_params(OPEN_TIMEOUT_MSEC=int(OPEN_TIMEOUT_S * 1000),
                                      READ_TIMEOUT_MSEC=int(READ_TIMEOUT_S * 1000))
            # FFmpeg only: another try through any backend would open without timeouts (FFmpeg's own 30 s).
            if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG):
                return cv2.VideoCapture(str(self.spec), cv2.CAP_FFMPEG, timeouts)
            return cv2.VideoCapture(str(self.spec))
        return self._ffmpeg_or_any(str(self.spec), capture_params(N_THREADS=1))

    @staticmethod
    def _ffmpeg_or_any(spec: str, params: list[int]) -> cv2.VideoCapture:
        """FFmpeg with `params`, else whatever backend opens it.

        A local file gets one decoding thread: FFmpeg's own threads would be created here, on the caller's
        thread and outside the capture thread's lower priority, and for small videos they cost a quarter
        more CPU per frame (0.56 vs 0.43 ms on the 340x256 test clip) for no gain: the prefetch thread already
        overlaps decoding with inference.
        """
        capture = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)
        if capture.isOpened():
            return capture
        capture.release()
        return cv2.VideoCapture(spec)

    @property
    def codec(self) -> str:
        """The container's codec tag ("h264", "mjpg", ...), lower case."""
        fourcc = int(self._capture.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF
        return fourcc.to_bytes(4, "little").decode("latin-1").strip("\0 ").lower()

    def _open_error(self) -> str:
        if self.is_camera:
            return (f"cannot open camera {self.spec} (/dev/video{self.spec}): not connected, or busy in "
                    "another program; list cameras with 'v4l2-ctl --list-devices'")
        if not self.is_url:
            if looks_like_video(Path(str(self.spec))):
                return f"cannot open video {self.spec}: it starts like a video file but is damaged or cut short"
            return f"cannot open video {self.spec}: not a video format OpenCV can read"
        return f"cannot open stream {self.spec}: check the URL and that the server is reachable"

    def read(self) -> Frame | None:
        """The next frame the demand wants (every frame without one); frames nobody wants are grabbed,
        which keeps their timestamps, but never decoded."""
        while not self._ended:
            if not self._capture.grab():
                if self.is_file:
                    self._end_of_file()
                    return None
                raise ClassifierError(f"{self.description} stopped delivering frames")
            timestamp = self._timestamp()
            due = self._demand.due(timestamp) if self._demand else None
            index = self._index
            self._index += 1
            if self._demand and not self._demand.wanted(bool(due)):
                continue
            ok, image = self._retrieve()
            if not ok:  # a frame that grabs but will not decode: damaged data, as read() would fail here
                self._index -= 1
                if self.is_file:
                    self._end_of_file()
                    return None
                raise ClassifierError(f"{self.description} stopped delivering frames")
            if self.realtime:  # play at the file's own speed
                delay = (self._start or 0.0) + timestamp - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            return Frame(image, timestamp, index, due=due)
        return None

    def _retrieve(self) -> tuple[bool, np.ndarray]:
        ok, data = self._capture.retrieve()
        if ok and self._jpeg_packets:
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
            return image is not None, image
        return ok, data

    def _timestamp(self) -> float:
        """Seconds of the frame just grabbed: the container's for a file, arrival time for a live source."""
        now = time.monotonic()
        if self._start is None:
            self._start = now
        return self._file_timestamp() if self.is_file else now - self._start

    def _end_of_file(self) -> None:
        """The file is over: an empty one is an error; one that ends early says so (once)."""
        self._ended = True
        if self._index == 0:
            raise ClassifierError(f"video {self.spec} has no frames that can be decoded (empty or damaged)")
        if self._index < COMPLETE_SHARE * self.frame_count:
            log.warning("video %s ended after %d of its %d frames: the file is damaged or cut short",
                        self.spec, self._index, self.frame_count)

    def _file_timestamp(self) -> float:
        return container_timestamp(self._capture, self._index, self.nominal_fps)

    @property
    def frame_bytes(self) -> int:
        """The size of one decoded BGR frame, for the prefetch queue's memory budget."""
        width = self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)
        height = self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
        return int(width * height) * 3

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._capture.release()


def container_timestamp(capture: cv2.VideoCapture, index: int, fps: float) -> float:
    """Seconds of the frame just read, from the container; frame index / fps where it has no timestamps."""
    position_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
    if position_ms > 0 or index == 0 or not fps:
        return position_ms / 1000.0
    return index / fps


def sampled_frames(path: str | Path, fps: float) -> Iterator[Frame]:
    """The frames of a video file that the app would classify at `fps` (picked by their timestamps)."""
    sampler = FrameSampler(fps)
    with OpenCVSource(str(path)) as source:
        while (frame := source.read()) is not None:
            if sampler.should_classify(frame.timestamp):
                yield frame
