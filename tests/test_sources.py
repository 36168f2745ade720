"""Frame sources: OpenCV on real files, the synthetic source, and picamera2 through a fake (no camera here)."""

from __future__ import annotations

import sys
import time
import types

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE

from utils.config import SourceOptions
from utils.errors import ClassifierError
from utils.sources import Frame, OpenCVSource, Picamera2Source, SyntheticSource, open_source
from utils.sources.picamera import lores_size


def test_file_frames_carry_container_timestamps():
    with OpenCVSource(str(CARVING_ICE)) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert len(frames) == 131
    assert [f.index for f in frames] == list(range(131))
    assert frames[0].image.shape == (172, 172, 3) and frames[0].image.dtype == np.uint8
    assert all(abs(f.timestamp - f.index / 30) < 0.002 for f in frames)
    assert "172x172" in source.description and source.nominal_fps > 25


def test_realtime_plays_at_the_files_speed():
    with OpenCVSource(str(ARM_WRESTLING), realtime=True) as source:
        start = time.monotonic()
        for _ in range(29):  # frames 0..28: one second of a 28 fps file
            source.read()
        assert time.monotonic() - start >= 0.95


def test_close_twice_is_safe():
    source = OpenCVSource(str(CARVING_ICE))
    source.close()
    source.close()


def test_unopenable_inputs(tmp_path):
    with pytest.raises(ClassifierError, match="video file not found"):
        OpenCVSource(str(tmp_path / "none.mp4"))
    text = tmp_path / "x.mp4"
    text.write_text("not a video")
    with pytest.raises(ClassifierError, match="not a video format"):
        OpenCVSource(str(text))
    with pytest.raises(ClassifierError, match="cannot open camera 63"):
        OpenCVSource(63)
    with pytest.raises(ClassifierError, match="cannot open stream rtsp://127.0.0.1:9/none"):
        OpenCVSource("rtsp://127.0.0.1:9/none")


def test_model_rgb_from_bgr_and_from_i420():
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[..., 2] = 255  # red, in BGR order
    rgb = Frame(bgr, 0.0, 0).model_rgb((16, 12))
    assert rgb.shape == (12, 16, 3) and rgb[..., 0].min() == 255 and rgb[..., 2].max() == 0

    blue_rgb = np.zeros((12, 16, 3), np.uint8)
    blue_rgb[..., 2] = 255
    i420 = cv2.cvtColor(blue_rgb, cv2.COLOR_RGB2YUV_I420)
    converted = Frame(bgr, 0.0, 0, lores=i420).model_rgb((16, 12))
    assert converted.shape == (12, 16, 3)
    assert converted[..., 2].min() > 230 and converted[..., 0].max() < 25


@pytest.mark.parametrize("main, model, expected", [
    ((640, 480), (172, 172), (256, 192)),
    ((640, 480), (224, 224), (320, 240)),
    ((1280, 720), (172, 172), (320, 180)),
    ((200, 150), (172, 172), (200, 150)),  # never larger than the main stream
])
def test_lores_size_covers_the_model_and_keeps_the_aspect(main, model, expected):
    assert lores_size(main, model) == expected


def test_synthetic_source():
    with SyntheticSource(320, 240, fps=10, frames=5) as source:
        frames = [source.read() for _ in range(6)]
    assert frames[-1] is None
    assert [f.timestamp for f in frames[:5]] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert not np.array_equal(frames[0].image, frames[1].image)


class FakeRequest:
    def __init__(self, camera: FakePicamera2) -> None:
        self.camera = camera

    def make_array(self, stream: str) -> np.ndarray:
        if stream == "main":
            width, height = self.camera.config["main"]["size"]
            image = np.zeros((height, width, 3), np.uint8)
            image[..., 1] = 200  # green, BGR
            return image
        width, height = self.camera.config["lores"]["size"]
        rgb = np.zeros((height, width, 3), np.uint8)
        rgb[..., 1] = 200
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)

    def get_metadata(self) -> dict:
        self.camera.captured += 1
        return {"SensorTimestamp": 5_000_000_000 + self.camera.captured * 33_333_333}

    def release(self) -> None:
        self.camera.released += 1


class FakePicamera2:
    """Just the picamera2 calls the source makes, recording what it was asked."""

    cameras = [{"Model": "imx708"}]
    instances: list[FakePicamera2] = []

    def __init__(self, camera_num: int = 0) -> None:
        if not self.cameras:
            raise IndexError("list index out of range")
        self.config, self.started, self.closed, self.captured, self.released = None, False, 0, 0, 0
        FakePicamera2.instances.append(self)

    @classmethod
    def global_camera_info(cls):
        return cls.cameras

    def create_video_configuration(self, main, lores, buffer_count):
        return {"main": main, "lores": lores, "buffer_count": buffer_count}

    def configure(self, config) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def capture_request(self) -> FakeRequest:
        return FakeRequest(self)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def fake_picamera2(monkeypatch):
    FakePicamera2.cameras = [{"Model": "imx708"}]
    FakePicamera2.instances = []
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    return FakePicamera2


def test_picamera2_source(fake_picamera2):
    with Picamera2Source(640, 480, (172, 172)) as source:
        first, second = source.read(), source.read()
    camera = fake_picamera2.instances[0]
    assert camera.config["main"] == {"size": (640, 480), "format": "RGB888"}
    assert camera.config["lores"] == {"size": (256, 192), "format": "YUV420"}
    assert (first.timestamp, round(second.timestamp, 6)) == (0.0, 0.033333)
    assert first.image.shape == (480, 640, 3)
    rgb = first.model_rgb((172, 172))
    assert rgb.shape == (192, 256, 3) and abs(int(rgb[..., 1].mean()) - 200) < 5 and rgb[..., 0].max() < 10
    assert camera.released == 2 and camera.closed == 1 and not camera.started
    source.close()
    assert camera.closed == 1  # closing twice is safe


def test_picamera2_start_failure_is_one_clear_error(fake_picamera2, monkeypatch):
    def busy(self):
        raise RuntimeError("Failed to acquire camera: Device or resource busy")
    monkeypatch.setattr(FakePicamera2, "start", busy)
    with pytest.raises(ClassifierError, match="cannot start the Pi camera: Failed to acquire.*another program"):
        Picamera2Source(640, 480, (172, 172))


def test_open_source_picks_by_flags(fake_picamera2):
    with open_source(SourceOptions(video=str(CARVING_ICE)), (172, 172)) as source:
        assert isinstance(getattr(source, "source", source), OpenCVSource)  # perhaps behind a prefetch thread
    with open_source(SourceOptions(), (172, 172)) as source:
        assert isinstance(source, Picamera2Source)  # the default when a Pi camera is there
    with pytest.raises(ClassifierError, match="cannot open camera 63"):
        open_source(SourceOptions(camera_id=63), (172, 172))


def test_open_source_without_any_camera(fake_picamera2, monkeypatch):
    fake_picamera2.cameras = []

    class NoCamera:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", NoCamera)
    with pytest.raises(ClassifierError, match="no camera found.*--video"):
        open_source(SourceOptions(), (172, 172))
