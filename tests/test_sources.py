"""Frame sources: OpenCV on real files, the synthetic source, and picamera2 through a fake (no camera here)."""

from __future__ import annotations

import sys
import time

import cv2
import fake_picamera2 as fake
import numpy as np
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE
from fake_picamera2 import CSI_CAMERA, USB_CAMERA, FakePicamera2, encode_i420, scene, unpadded_i420

from utils.config import SourceOptions
from utils.errors import ClassifierError
from utils.sampler import FrameSampler
from utils.sources import Frame, OpenCVSource, Picamera2Source, SyntheticSource, open_source, picamera2_available
from utils.sources.camera_list import list_cameras
from utils.sources.demand import Demand
from utils.sources.picamera import lores_size, pi_camera_fps
from utils.sources.v4l2 import camera_holders
from utils.sources.v4l2 import video_nodes as v4l2_video_nodes


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


# picamera2 through a stand-in (tests/fake_picamera2.py) that answers as the real one does on a Pi 4 and a Pi 5.

@pytest.fixture
def fake_picamera2(monkeypatch):
    fake.reset()
    for name, module in fake.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
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


def test_a_busy_camera_names_the_program_that_holds_it(fake_picamera2):
    """picamera2 raises from Picamera2() itself, with libcamera's reason two causes down."""
    fake_picamera2.busy = {0}
    with pytest.raises(ClassifierError) as caught:
        Picamera2Source(640, 480, (172, 172), holders=lambda: [(1234, "rpicam-hello")])
    assert str(caught.value) == ("the Pi camera 0 (imx708) is busy: another program holds it (rpicam-hello "
                                 "(pid 1234)); stop that program and start again")
    assert str(caught.value.__cause__) == "Camera __init__ sequence did not complete."
    assert "Device or resource busy" in str(caught.value.__cause__.__cause__)
    with pytest.raises(ClassifierError, match=r"busy: another program holds it \(see which with: sudo fuser"):
        Picamera2Source(640, 480, (172, 172), holders=lambda: [])  # another user's program: /proc hides it


def test_camera_holders_reads_proc_as_fuser_does(tmp_path):
    for pid, name, targets in [(100, "rpicam-vid", ["/dev/null", "/dev/media2"]), (200, "bash", ["/dev/pts/0"]),
                               (300, "python3", ["/dev/video19"]), (400, "me", ["/dev/media0"])]:
        (tmp_path / f"proc/{pid}/fd").mkdir(parents=True)
        (tmp_path / f"proc/{pid}/comm").write_text(name + "\n")
        for fd, target in enumerate(targets):
            (tmp_path / f"proc/{pid}/fd/{fd}").symlink_to(target)
    (tmp_path / "proc/self").mkdir()
    assert camera_holders(tmp_path, own_pid=400) == [(100, "rpicam-vid"), (300, "python3")]


def test_out_of_cma_memory_is_one_clear_hint(fake_picamera2):
    fake_picamera2.cma_bytes = 40 * 2**20
    with Picamera2Source(1280, 720, (172, 172)) as source:
        assert fake_picamera2.instances[0].config["buffer_count"] == 6
        source.read()
    with Picamera2Source(1920, 1080, (172, 172)) as source:  # 6 buffers would not fit
        assert fake_picamera2.instances[1].config["buffer_count"] == 4
    fake_picamera2.cma_bytes = 10 * 2**20
    with pytest.raises(ClassifierError, match=r"not enough camera \(CMA\) memory .*Cannot allocate memory.*--width"):
        Picamera2Source(1920, 1080, (172, 172))
    assert fake_picamera2.instances[2].closed == 1, "the camera is let go for the next try"


# sensor model -> (the mode picamera2 picks for 640x480 by itself, its share of the sensor's width;
#                  the mode the source asks for instead)
SENSOR_CHOICES = {
    "imx219": ((640, 480), 0.39, (1640, 1232)),
    "imx708": ((1536, 864), 0.67, (2304, 1296)),
    "imx477": ((2028, 1520), 1.0, (2028, 1520)),  # its 10-bit cropped mode loses on bit depth
    "imx296": ((1456, 1088), 1.0, (1456, 1088)),
    "imx500": ((2028, 1520), 1.0, (2028, 1520)),
}


@pytest.mark.parametrize("model", sorted(SENSOR_CHOICES))
def test_the_camera_shows_the_whole_sensor(fake_picamera2, model):
    cropped, share, full = SENSOR_CHOICES[model]
    fake_picamera2.cameras = [fake.csi_camera(model)]
    plain = FakePicamera2(0)  # what picamera2 does with the output size alone
    plain.configure(plain.create_video_configuration(main={"size": (640, 480), "format": "RGB888"},
                                                     lores={"size": (256, 192), "format": "YUV420"}))
    assert plain.sensor_mode["size"] == cropped and round(plain.field_of_view(), 2) == share
    with Picamera2Source(640, 480, (172, 172)) as source:
        camera = fake_picamera2.instances[-1]
        assert camera.sensor_mode["size"] == full and camera.sensor_mode["fps"] >= 30
        assert camera.field_of_view() == 1.0
        assert f"sensor mode {full[0]}x{full[1]}" in source.description
        assert source.nominal_fps == pytest.approx(30, abs=0.01)
        assert camera.config["controls"]["FrameDurationLimits"] == (33333, 33333)


def test_old_picamera2_picks_the_mode_through_the_raw_stream(monkeypatch, fake_picamera2):
    """picamera2 0.3.12 has no sensor= argument."""
    fake_picamera2.cameras = [fake.csi_camera("imx219")]
    monkeypatch.setitem(sys.modules, "picamera2", fake.modules(fake.OldPicamera2)["picamera2"])
    with Picamera2Source(640, 480, (172, 172)):
        camera = fake_picamera2.instances[-1]
        assert camera.config["raw"] == {"size": (1640, 1232), "format": "SRGGB10_CSI2P"}
        assert camera.sensor_mode["bit_depth"] == 10 and camera.field_of_view() == pytest.approx(1.0, abs=0.002)


@pytest.mark.parametrize("model, focusing", [("imx708", True), ("imx219", False), ("imx477", False)])
def test_autofocus_runs_where_the_camera_has_a_lens_to_move(fake_picamera2, model, focusing):
    """libcamera leaves the Camera Module 3's lens at 1 dioptre (about 1 m) unless AfMode is set."""
    fake_picamera2.cameras = [fake.csi_camera(model)]
    with Picamera2Source(640, 480, (172, 172)) as source:
        source.read()
        camera = fake_picamera2.instances[-1]
        assert ("AfMode" in camera.config["controls"]) is focusing  # others would reject it: not advertised
        if focusing:
            assert camera.config["controls"]["AfMode"] == fake.AF_MODE.Continuous
            assert camera.focus_metadata()["LensPosition"] != fake.DEFAULT_LENS_POSITION


def test_a_second_pi_camera_is_picked_by_its_number(fake_picamera2):
    fake_picamera2.cameras = [fake.csi_camera("imx708", 0), USB_CAMERA, fake.csi_camera("imx219", 1)]
    with open_source(SourceOptions(pi_camera=1), (172, 172)) as source:
        assert source.description.startswith("Pi camera 1 (imx219")
    with open_source(SourceOptions(), (172, 172)) as source:
        assert source.description.startswith("Pi camera 0 (imx708")
    with pytest.raises(ClassifierError, match=r"--pi-camera 2: there is no such Pi camera \(found: 0: imx708, "
                                              r"1: imx219\); see --list-cameras"):
        open_source(SourceOptions(pi_camera=2), (172, 172))


def test_list_cameras_numbers_them_as_the_flags_do(fake_picamera2, tmp_path):
    fake_picamera2.cameras = [fake.csi_camera("imx708", 0), USB_CAMERA, fake.csi_camera("imx219", 1)]
    add_video_node(tmp_path, 0, "rp1-cfe-csi2_ch0", "rp1-cfe")
    add_video_node(tmp_path, 20, "pispbe-input", "pispbe")
    add_video_node(tmp_path, 31, "HD Pro Webcam C920", "uvcvideo")
    add_video_node(tmp_path, 32, "HD Pro Webcam C920", "uvcvideo", index=1)  # its metadata node
    lines = list_cameras(tmp_path).splitlines()
    assert lines[1].startswith("  --pi-camera 0: imx708 (/base/axi/pcie@120000/rp1/i2c@88000/")
    assert lines[2].startswith("  --pi-camera 1: imx219 (/base/axi/pcie@120000/rp1/i2c@80000/")
    assert lines[3:] == ["USB cameras (OpenCV):", "  --camera-id 31: HD Pro Webcam C920 (/dev/video31)"]


def add_video_node(root, number, name, driver, index=0):
    """/sys/class/video4linux/videoN as the kernel lays it out: device/driver links to the driver's directory."""
    node = root / f"sys/class/video4linux/video{number}"
    (node / "device").mkdir(parents=True)
    (node / "name").write_text(name + "\n")
    (node / "index").write_text(f"{index}\n")
    (node / "device/driver").symlink_to(root / f"sys/bus/platform/drivers/{driver}")


def test_the_raw_camera_node_is_refused_with_the_reason_picamera2_is_missing(monkeypatch, tmp_path):
    """Without picamera2, VideoCapture(0) on a Pi would open the camera receiver: raw Bayer, no picture."""
    import utils.sources.v4l2 as v4l2

    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 raises ImportError
    add_video_node(tmp_path, 0, "unicam-image", "unicam")
    monkeypatch.setattr(v4l2, "video_nodes", lambda root=tmp_path: v4l2_video_nodes(tmp_path))
    with pytest.raises(ClassifierError, match=r"/dev/video0 is the Pi camera's raw unicam node.*--pi-camera N.*"
                                              r"but picamera2 does not import .*python3-picamera2"):
        open_source(SourceOptions(), (172, 172))
    with pytest.raises(ClassifierError, match="/dev/video0 is the Pi camera's raw unicam node"):
        open_source(SourceOptions(camera_id=0), (172, 172))
    with pytest.raises(ClassifierError, match="--pi-camera 0: picamera2 does not import"):
        open_source(SourceOptions(pi_camera=0), (172, 172))


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


def test_the_camera_list_is_asked_for_once(fake_picamera2, tmp_path):
    with open_source(SourceOptions(), (172, 172)) as source:
        assert isinstance(source, Picamera2Source)
    assert fake_picamera2.listed == 2, "once by the app, once inside Picamera2() (as upstream's __init__ does)"
    fake_picamera2.listed = 0
    list_cameras(tmp_path)
    assert fake_picamera2.listed == 1


def test_the_pi_camera_is_picked_beside_a_usb_webcam(fake_picamera2):
    fake_picamera2.cameras = [USB_CAMERA, CSI_CAMERA]
    fake_picamera2.usb_last = False  # picamera2 0.3.12 (early Bookworm) lists them as libcamera does
    with open_source(SourceOptions(), (172, 172)) as source:
        assert isinstance(source, Picamera2Source) and source.description.startswith("Pi camera 0 (imx708")
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


@pytest.mark.parametrize("classify_fps, shown, camera_fps", [
    (5, False, 10), (2, False, 10), (8, False, 16), (20, False, 30), (0, False, 30), (5, True, 30)])
def test_headless_the_camera_runs_only_as_fast_as_the_sampler_needs(fake_picamera2, classify_fps, shown, camera_fps):
    """picamera2's video configuration runs at 30 fps; headless at --fps 5, 10 are enough to sample from."""
    fps = pi_camera_fps(classify_fps, shown)
    assert fps == camera_fps
    with Picamera2Source(640, 480, (172, 172), camera_fps=fps) as source:
        duration = round(1e6 / camera_fps)
        assert fake_picamera2.instances[-1].config["controls"]["FrameDurationLimits"] == (duration, duration)
        assert source.nominal_fps == pytest.approx(camera_fps, rel=1e-4)
