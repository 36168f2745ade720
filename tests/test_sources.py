"""Frame sources: OpenCV on real files, the synthetic source, and picamera2 through a fake (no camera here)."""

from __future__ import annotations

import copy
import sys
import time
import types

import cv2
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE

from utils.config import SourceOptions
from utils.errors import ClassifierError
from utils.sampler import FrameSampler
from utils.sources import Frame, OpenCVSource, Picamera2Source, SyntheticSource, open_source, picamera2_available
from utils.sources.demand import Demand
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


def test_files_open_with_debians_opencv_4_6(monkeypatch):
    """32-bit Pi OS takes apt's OpenCV 4.6, which predates CAP_PROP_N_THREADS."""
    monkeypatch.delattr(cv2, "CAP_PROP_N_THREADS")
    with OpenCVSource(str(CARVING_ICE)) as source:
        assert source.read() is not None


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


# picamera2 through a stand-in that lays out its buffers as the real one does on a Pi 4 and a Pi 5.

CSI_CAMERA = {"Model": "imx708", "Id": "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a", "Num": 0}
USB_CAMERA = {"Model": "HD Pro Webcam C920", "Id": "/base/scb/pcie@7d500000/pci@0,0/usb@0,0-1.2:1.0-046d:0825",
              "Num": 1}
# Kr, Kb of the YCbCr matrices of libcamera's colour spaces (both limited range).
MATRICES = {"Smpte170m": (0.299, 0.114), "Rec709": (0.2126, 0.0722)}


def align(value: int, to: int) -> int:
    return -(-value // to) * to


def yuv420_stride(width: int, platform: str) -> int:
    """The Y row length the ISP gives a YUV420 stream; the U and V rows are half of it.

    Pi 5 (PiSP): U/V rows aligned to 64 bytes and Y to twice that (libcamera pisp.cpp computeOptimalStride);
    when the lores is under 1/12 of the sensor mode's width, libcamera keeps the stride of twice the width
    (calculateSwDownscale). Pi 4 (VC4 ISP): rows aligned to 64 bytes (bcm2835-isp bytesperline_align).
    """
    if platform == "pi5":
        return 2 * align(width // 2, 64)
    if platform == "pi5-sw-downscale":
        return 2 * align(width, 64)
    return align(width, 64)


def scene(width: int, height: int) -> np.ndarray:
    """RGB: four saturated colour bands (each chroma row covers one band) fading to the left."""
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], np.float64)
    band = np.minimum((np.arange(height) // 2) * 2 * 4 // height, 3)
    fade = 0.6 + 0.4 * np.arange(width) / (width - 1)
    return np.round(colours[band][:, None, :] * fade[None, :, None]).astype(np.uint8)


def encode_i420(rgb: np.ndarray, colour_space: str) -> list[np.ndarray]:
    """The Y, U and V planes the ISP makes of `rgb` in this colour space."""
    kr, kb = MATRICES[colour_space]
    r, g, b = (rgb[..., channel] / 255.0 for channel in range(3))
    luma = kr * r + (1 - kr - kb) * g + kb * b
    height, width = luma.shape

    def chroma(difference: np.ndarray) -> np.ndarray:
        return (128 + 224 * difference).reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = [16 + 219 * luma, chroma((b - luma) / (2 * (1 - kb))), chroma((r - luma) / (2 * (1 - kr)))]
    return [np.clip(np.round(plane), 0, 255).astype(np.uint8) for plane in planes]


def unpadded_i420(planes: list[np.ndarray]) -> np.ndarray:
    height, width = planes[0].shape
    return np.concatenate([plane.ravel() for plane in planes]).reshape(height * 3 // 2, width)


def isp_buffer(planes: list[np.ndarray], stride: int) -> np.ndarray:
    """One YUV420 buffer as the ISP fills it, shaped as picamera2's make_array returns it: (height * 3/2, stride).

    Y is `height` rows of `stride` bytes, then U and V follow, each height/2 rows of stride/2 bytes; the
    padding is 0xFF so that reading it as picture shows.
    """
    y, u, v = planes
    height, width = y.shape
    half = stride // 2
    buffer = np.full(height * stride * 3 // 2, 0xFF, np.uint8)
    u_start = height * stride
    v_start = u_start + height // 2 * half
    buffer[:u_start].reshape(height, stride)[:, :width] = y
    buffer[u_start:v_start].reshape(height // 2, half)[:, : width // 2] = u
    buffer[v_start:].reshape(height // 2, half)[:, : width // 2] = v
    return buffer.reshape(height * 3 // 2, stride)


class FakeRequest:
    def __init__(self, camera: FakePicamera2) -> None:
        self.camera = camera

    def make_array(self, stream: str) -> np.ndarray:
        self.camera.copied.append(stream)
        config = self.camera.camera_configuration()
        width, height = config[stream]["size"]
        if stream == "main":  # picamera2 crops RGB888 rows itself
            image = np.zeros((height, width, 3), np.uint8)
            image[..., 1] = 200  # green, BGR
            return image
        planes = encode_i420(scene(width, height), config["colour_space"])
        return isp_buffer(planes, config["lores"]["stride"])

    def get_metadata(self) -> dict:
        self.camera.captured += 1
        return {"SensorTimestamp": 5_000_000_000 + self.camera.captured * 33_333_333}

    def release(self) -> None:
        self.camera.released += 1


class FakeJob:
    def __init__(self, request: FakeRequest) -> None:
        self.request = request


class FakePicamera2:
    """The picamera2 calls the source makes, answering as picamera2 and libcamera do on a Pi."""

    platform = "pi5"
    cameras = [CSI_CAMERA]
    usb_last = True          # picamera2 >= 0.3.13 sorts USB cameras last; 0.3.12 does not
    lores_configured = None  # the lores size libcamera's validate() settles on, when not the one asked
    delivering = True        # False: no frame ever comes (the event loop died, the cable is out)
    instances: list[FakePicamera2] = []

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.info = self.global_camera_info()[camera_num]  # IndexError without cameras, as picamera2
        self.config: dict | None = None
        self.started, self.closed, self.captured, self.released, self.cancelled = False, 0, 0, 0, 0
        self.late_signals: list = []
        self.copied: list[str] = []  # the streams make_array() copied, in order
        FakePicamera2.instances.append(self)

    @classmethod
    def global_camera_info(cls):
        if not cls.usb_last:
            return list(cls.cameras)
        return sorted(cls.cameras, key=lambda cam: ("/usb" not in cam["Id"], cam["Id"]), reverse=True)

    def create_video_configuration(self, main, lores, buffer_count=6, colour_space=None):
        if colour_space is None:  # picamera2's own choice
            small = main["size"][0] < 1280 or main["size"][1] < 720
            colour_space = "Smpte170m" if small else "Rec709"
        return {"main": dict(main), "lores": dict(lores), "buffer_count": buffer_count,
                "colour_space": colour_space}

    def configure(self, config) -> None:
        if "/usb" in self.info["Id"] and config["lores"]:
            # libcamera's UVC pipeline has one stream; picamera2 then reads past it (undefined behaviour)
            raise RuntimeError("a UVC camera has only one stream")
        configured = copy.deepcopy(config)
        lores = configured["lores"]
        lores["size"] = self.lores_configured or lores["size"]
        lores["stride"] = yuv420_stride(lores["size"][0], self.platform)
        configured["main"]["stride"] = configured["main"]["size"][0] * 3
        self.config = configured

    def camera_configuration(self) -> dict:
        assert self.config is not None
        return self.config

    def start(self) -> None:
        self.started = True

    def capture_request(self, wait=None, signal_function=None):
        job = FakeJob(FakeRequest(self))
        if signal_function is None:
            return job.request
        if self.delivering:
            signal_function(job)
        else:
            self.late_signals.append(lambda: signal_function(job))
        return job

    def wait(self, job: FakeJob) -> FakeRequest:
        return job.request

    def cancel_all_and_flush(self) -> None:
        self.cancelled += 1

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def fake_picamera2(monkeypatch):
    FakePicamera2.platform = "pi5"
    FakePicamera2.cameras = [CSI_CAMERA]
    FakePicamera2.usb_last, FakePicamera2.lores_configured, FakePicamera2.delivering = True, None, True
    FakePicamera2.instances = []
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    colour_spaces = types.SimpleNamespace(Smpte170m=lambda: "Smpte170m", Rec709=lambda: "Rec709")
    monkeypatch.setitem(sys.modules, "libcamera", types.SimpleNamespace(ColorSpace=colour_spaces))
    return FakePicamera2


def test_picamera2_source(fake_picamera2):
    with Picamera2Source(640, 480, (172, 172)) as source:
        first, second = source.read(), source.read()
    camera = fake_picamera2.instances[0]
    assert camera.config["main"]["size"] == (640, 480) and camera.config["main"]["format"] == "RGB888"
    assert camera.config["lores"]["size"] == (256, 192) and camera.config["lores"]["format"] == "YUV420"
    assert camera.config["buffer_count"] == 6, "the preview and the request queue each hold a buffer"
    assert (first.timestamp, round(second.timestamp, 6)) == (0.0, 0.033333)
    assert first.image.shape == (480, 640, 3)
    assert first.model_rgb((172, 172)).shape == (192, 256, 3)
    assert camera.released == 2 and camera.closed == 1 and not camera.started
    source.close()
    assert camera.closed == 1  # closing twice is safe


@pytest.mark.parametrize("platform", ["pi4", "pi5", "pi5-sw-downscale"])
@pytest.mark.parametrize("main, model", [((640, 480), (172, 172)), ((640, 480), (224, 224)),
                                         ((1280, 720), (172, 172))])
def test_the_model_gets_the_lores_picture_whatever_the_row_padding(fake_picamera2, platform, main, model):
    """The Pi 5 pads YUV420 rows: 320 wide (A2 at 640x480, any model at 1280x720) comes as 384-byte rows."""
    fake_picamera2.platform = platform
    with Picamera2Source(*main, model) as source:
        frame = source.read()
    config = fake_picamera2.instances[0].config["lores"]
    width, height = config["size"]
    expected = cv2.cvtColor(unpadded_i420(encode_i420(scene(width, height), "Smpte170m")), cv2.COLOR_YUV2RGB_I420)
    assert frame.lores is not None and frame.lores.shape == (height * 3 // 2, config["stride"])
    np.testing.assert_array_equal(frame.model_rgb(model), expected)


def test_the_lores_size_is_what_libcamera_configured(fake_picamera2):
    fake_picamera2.lores_configured = (256, 192)
    with Picamera2Source(640, 480, (224, 224)) as source:  # asks for 320x240
        frame = source.read()
        assert "model stream 256x192" in source.description
    expected = cv2.cvtColor(unpadded_i420(encode_i420(scene(256, 192), "Smpte170m")), cv2.COLOR_YUV2RGB_I420)
    np.testing.assert_array_equal(frame.model_rgb((224, 224)), expected)


def test_the_model_sees_true_colours_with_an_hd_main_stream(fake_picamera2):
    """picamera2 encodes in Rec.709 from 1280x720 up unless told otherwise; OpenCV decodes BT.601."""
    with Picamera2Source(1280, 720, (172, 172)) as source:
        frame = source.read()
    assert fake_picamera2.instances[0].config["colour_space"] == "Smpte170m"
    width, height = fake_picamera2.instances[0].config["lores"]["size"]
    error = np.abs(frame.model_rgb((172, 172)).astype(int) - scene(width, height))
    assert error.max() <= 3


def test_picamera2_start_failure_is_one_clear_error(fake_picamera2, monkeypatch):
    def busy(self):
        raise RuntimeError("Failed to acquire camera: Device or resource busy")
    monkeypatch.setattr(FakePicamera2, "start", busy)
    with pytest.raises(ClassifierError, match="cannot start the Pi camera: Failed to acquire.*another program"):
        Picamera2Source(640, 480, (172, 172))


def test_a_camera_that_stops_sending_frames_is_one_clear_error(fake_picamera2):
    fake_picamera2.delivering = False
    source = Picamera2Source(640, 480, (172, 172), frame_timeout=0.05)
    with pytest.raises(ClassifierError, match="the Pi camera sent no frame for 0.05 s"):
        source.read()
    camera = fake_picamera2.instances[0]
    assert camera.cancelled == 1, "the pending capture is cancelled so the camera can stop"
    camera.late_signals[0]()  # the request turns up after all: it goes back to the camera
    assert camera.released == 1
    source.close()
    assert camera.closed == 1


class FakeWebcam:
    """cv2.VideoCapture on a working USB camera; records what was opened."""

    opened: list = []

    def __init__(self, spec, *args) -> None:
        FakeWebcam.opened.append(spec)

    def isOpened(self) -> bool:
        return True

    def set(self, *args) -> bool:
        return True

    def get(self, prop) -> float:
        return {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480, cv2.CAP_PROP_FPS: 30}.get(prop, 0)

    def read(self):
        return True, np.zeros((480, 640, 3), np.uint8)

    def grab(self) -> bool:
        return True

    def retrieve(self):
        return self.read()

    def release(self) -> None:
        pass


def innermost(source):
    """The source itself, behind the prefetch thread and the reconnecting wrapper of a live source."""
    while hasattr(source, "source"):
        source = source.source
    return source


def test_a_usb_webcam_listed_by_libcamera_is_read_through_opencv(fake_picamera2, monkeypatch):
    """global_camera_info() lists UVC webcams too, but they give one stream, not main + lores."""
    fake_picamera2.cameras = [USB_CAMERA]
    FakeWebcam.opened = []
    monkeypatch.setattr(cv2, "VideoCapture", FakeWebcam)
    assert not picamera2_available()
    with open_source(SourceOptions(), (172, 172)) as source:
        assert isinstance(innermost(source), OpenCVSource)
    assert FakeWebcam.opened == [0] and fake_picamera2.instances == []


def test_the_pi_camera_is_picked_beside_a_usb_webcam(fake_picamera2):
    fake_picamera2.cameras = [USB_CAMERA, CSI_CAMERA]
    fake_picamera2.usb_last = False  # picamera2 0.3.12 (early Bookworm) lists them as libcamera does
    with open_source(SourceOptions(), (172, 172)) as source:
        assert isinstance(source, Picamera2Source) and source.description.startswith("Pi camera 1 ")
        source.read()
    assert fake_picamera2.instances[0].info is CSI_CAMERA


def test_open_source_picks_by_flags(fake_picamera2):
    with open_source(SourceOptions(video=str(CARVING_ICE)), (172, 172)) as source:
        assert isinstance(innermost(source), OpenCVSource)
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


def test_headless_pi_camera_copies_only_the_frames_it_classifies(fake_picamera2):
    """30 fps from the sensor, 5 classified a second, nothing shown: 1 request in 6 is copied."""
    watching = False
    demand = Demand(FrameSampler(5.0), lambda: watching)
    with Picamera2Source(640, 480, (172, 172)) as source:
        source.set_demand(demand)
        frames = [source.read() for _ in range(10)]
        camera = fake_picamera2.instances[0]
        assert camera.captured == 55 and camera.released == 55  # every request goes back to the camera
        assert camera.copied == ["main", "lores"] * 10  # only the 10 classified ones are copied
        assert all(frame.due for frame in frames)
        assert [frame.index for frame in frames] == list(range(0, 55, 6))
        watching = True  # a web client or a window appears: every frame again
        more = [source.read() for _ in range(6)]
    assert [frame.index for frame in more] == list(range(55, 61))
    assert [frame.due for frame in more] == [False] * 5 + [True]
