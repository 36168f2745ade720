"""A stand-in for picamera2 and libcamera on a Pi, answering the calls the app makes as upstream does.

Each behaviour names what it copies:
- picamera2/picamera2.py: global_camera_info() (USB cameras sorted last, from 0.3.13), __init__ (the index
  goes through global_camera_info()[n]['Num'], an IndexError without cameras; any failure while opening is
  re-raised as RuntimeError("Camera __init__ sequence did not complete.") from the cause), sensor_modes
  (one dict per raw mode with size, fps, crop_limits, bit_depth; it configures the camera for each, so only
  while stopped), create_video_configuration (its controls merged over NoiseReductionMode and 30 fps
  FrameDurationLimits; `sensor` exists from 0.3.13), the sensor-mode choice in _make_libcamera_config
  (score_mode, copied below), stop_preview/start_preview ("No preview specified.", "An event loop is
  already running").
- libcamera src/py/libcamera/py_main.cpp: Camera.acquire() raises "Failed to acquire camera: Device or
  resource busy" when another process holds the media device (PipelineHandler::acquire's lockf).
- picamera2/controls.py: a control the camera does not advertise raises "Control X is not advertised by libcamera".
- picamera2/dma_heap.py: a buffer the CMA heap cannot give fails in fcntl.ioctl: OSError ENOMEM.
- picamera2/previews/null_preview.py, drm_preview.py: the preview's thread is the camera's event loop; a
  draw that raises kills it, and from then on no request completes.
- Sensor modes: raspberrypi/linux drivers/media/i2c/imx219.c, imx477.c, imx708.c, imx296.c, imx500.c (size,
  crop, and fps = pixel_rate / (line_length * (height + vblank_min))), as picamera2 prints them in
  picamera2 issues #683 (imx219) and #301 (imx477) and rpicam-hello --list-cameras does for imx500.
- Autofocus: libcamera src/ipa/rpi/controller/rpi/af.cpp starts in AfModeManual with the lens at the
  tuning's default, 1.0 dioptre (src/ipa/rpi/pisp/data/imx708.json "rpi.af"); only the imx708 has a lens.
"""

from __future__ import annotations

import copy
import errno
import threading
import types

import numpy as np


def mode(size, fps, crop, bit_depth=10, packed="SRGGB10_CSI2P"):
    return {"format": packed, "unpacked": packed.split("_")[0], "bit_depth": bit_depth, "size": size, "fps": fps,
            "crop_limits": crop, "exposure_limits": (75, 11766829, None)}


# Per sensor: the full pixel array, its raw modes (as picamera2's sensor_modes lists them) and its Id on a Pi 5.
SENSORS = {
    "imx219": {  # Camera v2
        "array": (3280, 2464),
        "modes": [mode((640, 480), 103.33, (1000, 752, 1280, 960)),
                  mode((1640, 1232), 41.85, (0, 0, 3280, 2464)),
                  mode((1920, 1080), 47.57, (680, 692, 1920, 1080)),
                  mode((3280, 2464), 21.19, (0, 0, 3280, 2464)),
                  mode((640, 480), 103.33, (1000, 752, 1280, 960), 8, "SRGGB8"),
                  mode((1640, 1232), 41.85, (0, 0, 3280, 2464), 8, "SRGGB8"),
                  mode((1920, 1080), 47.57, (680, 692, 1920, 1080), 8, "SRGGB8"),
                  mode((3280, 2464), 21.19, (0, 0, 3280, 2464), 8, "SRGGB8")],
    },
    "imx708": {  # Camera Module 3: pixel rates 566.4/585.6/595.2 MHz, line lengths 0x1460/0x1e90/0x3d20
        "array": (4608, 2592),
        "modes": [mode((1536, 864), 120.13, (768, 432, 3072, 1728)),
                  mode((2304, 1296), 56.03, (0, 0, 4608, 2592)),
                  mode((4608, 2592), 14.35, (0, 0, 4608, 2592))],
        "lens": True,
    },
    "imx477": {  # HQ camera
        "array": (4056, 3040),
        "modes": [mode((1332, 990), 120.05, (696, 528, 2664, 1980)),
                  mode((2028, 1080), 50.03, (0, 440, 4056, 2160), 12, "SRGGB12_CSI2P"),
                  mode((2028, 1520), 40.01, (0, 0, 4056, 3040), 12, "SRGGB12_CSI2P"),
                  mode((4056, 3040), 10.00, (0, 0, 4056, 3040), 12, "SRGGB12_CSI2P")],
    },
    "imx296": {  # Global Shutter camera: one mode, the whole sensor
        "array": (1456, 1088),
        "modes": [mode((1456, 1088), 60.38, (0, 0, 1456, 1088))],
    },
    "imx500": {  # AI camera
        "array": (4056, 3040),
        "modes": [mode((2028, 1520), 30.02, (0, 0, 4056, 3040)),
                  mode((4056, 3040), 10.00, (0, 0, 4056, 3040))],
    },
}


def csi_camera(model: str = "imx708", port: int = 0) -> dict:
    """global_camera_info()'s entry for a camera on a Pi 5 connector (CAM0 on i2c@88000, CAM1 on i2c@80000)."""
    bus = "88000" if port == 0 else "80000"
    return {"Model": model, "Id": f"/base/axi/pcie@120000/rp1/i2c@{bus}/{model}@1a", "Num": port}


CSI_CAMERA = csi_camera()
USB_CAMERA = {"Model": "HD Pro Webcam C920", "Id": "/base/scb/pcie@7d500000/pci@0,0/usb@0,0-1.2:1.0-046d:0825",
              "Num": 1}
# Kr, Kb of the YCbCr matrices of libcamera's colour spaces (both limited range).
MATRICES = {"Smpte170m": (0.299, 0.114), "Rec709": (0.2126, 0.0722)}
AF_MODE = types.SimpleNamespace(Manual=0, Auto=1, Continuous=2)  # libcamera control_ids_core.yaml AfModeEnum
DEFAULT_LENS_POSITION = 1.0  # dioptres, imx708.json "rpi.af" ranges.normal.default


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


def score_mode(mode: dict, bit_depth: int, output_size: tuple[int, int]) -> float:
    """picamera2's _make_libcamera_config copy of how libcamera scores a sensor mode (lowest wins)."""
    ar = output_size[0] / output_size[1]
    mode_ar = mode["size"][0] / mode["size"][1]

    def score_format(desired, actual):
        score = desired - actual
        return -score / 4 if score < 0 else score * 2

    score = score_format(output_size[0], mode["size"][0])
    score += score_format(output_size[1], mode["size"][1])
    score += 1500 * score_format(ar, mode_ar)
    score += 500 * abs(bit_depth - mode["bit_depth"])
    return score


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
        return {"SensorTimestamp": 5_000_000_000 + self.camera.captured * 33_333_333,
                **self.camera.focus_metadata()}

    def release(self) -> None:
        self.camera.released += 1


class FakeJob:
    def __init__(self, request: FakeRequest) -> None:
        self.request = request


class FakePreview:
    """NullPreview or DrmPreview: a thread that is the camera's event loop; `fail` makes its next draw raise."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.failure: BaseException | None = None
        self._draw = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"{kind} preview", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._draw.wait()
            self._draw.clear()
            if self.failure is not None:
                raise self.failure  # DrmPreview.render_drm raising on the event-loop thread

    def fail(self, error: BaseException) -> None:
        """The next draw raises (another program took the screen, the monitor went away); waits until it has."""
        self.failure = error
        self._draw.set()
        self.thread.join()

    def stop(self) -> None:
        self._stop.set()
        self._draw.set()
        self.thread.join()


class FakePicamera2:
    """The picamera2 calls the app makes, answering as picamera2 and libcamera do on a Pi."""

    platform = "pi5"
    cameras = [CSI_CAMERA]
    usb_last = True          # picamera2 >= 0.3.13 sorts USB cameras last; 0.3.12 does not
    lores_configured = None  # the lores size libcamera's validate() settles on, when not the one asked
    delivering = True        # False: no frame ever comes (the cable is out)
    busy: set[int] = set()   # libcamera numbers of cameras another process holds
    cma_bytes: int | None = None  # the CMA heap left for buffers; None: enough
    instances: list[FakePicamera2] = []
    listed = 0               # calls of global_camera_info(), Picamera2()'s own included (upstream's __init__ asks)

    def __init__(self, camera_num: int = 0) -> None:
        self.info = self.global_camera_info()[camera_num]  # IndexError without cameras, as picamera2
        self.camera_num = camera_num
        self.config: dict | None = None
        self.started, self.closed, self.captured, self.released, self.cancelled = False, 0, 0, 0, 0
        self.late_signals: list = []
        self.copied: list[str] = []  # the streams make_array() copied, in order
        self.sensor_mode: dict | None = None
        self._preview: FakePreview | None = None
        FakePicamera2.instances.append(self)
        try:
            self._open_camera()
        except Exception as e:
            raise RuntimeError("Camera __init__ sequence did not complete.") from e

    def _open_camera(self) -> None:
        if self.info["Num"] in self.busy:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")

    @classmethod
    def global_camera_info(cls):
        FakePicamera2.listed += 1
        if not cls.usb_last:
            return list(cls.cameras)
        return sorted(cls.cameras, key=lambda cam: ("/usb" not in cam["Id"], cam["Id"]), reverse=True)

    @property
    def is_usb(self) -> bool:
        return "/usb" in self.info["Id"]

    @property
    def sensor(self) -> dict:
        return SENSORS.get(self.info["Model"], {"array": (1920, 1080), "modes": []})

    @property
    def sensor_modes(self) -> list[dict]:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if self.is_usb:
            return [{"format": "MJPEG"}, {"format": "YUYV"}]  # not raw: picamera2 only quotes the name
        return copy.deepcopy(self.sensor["modes"])

    @property
    def camera_controls(self) -> dict[str, tuple]:
        if self.is_usb:
            return {"Brightness": (-64, 64, 0)}
        fastest = max(mode["fps"] for mode in self.sensor["modes"])
        controls = {"FrameDurationLimits": (round(1e6 / fastest), 694422939, 33333),
                    "NoiseReductionMode": (0, 4, 0), "ExposureTime": (75, 11766829, 20000),
                    "AnalogueGain": (1.0, 10.66, 1.0), "ScalerCrop": ((0, 0, 64, 64), (0, 0, *self.sensor["array"]),
                                                                  (0, 0, *self.sensor["array"]))}
        if self.sensor.get("lens"):
            controls |= {"AfMode": (0, 2, 0), "LensPosition": (0.0, 15.0, DEFAULT_LENS_POSITION)}
        return controls

    def create_video_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None,  # noqa: B006
                                   buffer_count=6, controls={}, display="main", encode="main", queue=True,  # noqa: B006
                                   sensor={}, use_case="video"):  # noqa: B006 (picamera2's own signature)
        return self._video_configuration(main, lores, raw, colour_space, buffer_count, controls, sensor)

    def _video_configuration(self, main, lores, raw, colour_space, buffer_count, controls, sensor):
        if colour_space is None:  # picamera2's own choice
            small = main["size"][0] < 1280 or main["size"][1] < 720
            colour_space = "Smpte170m" if small else "Rec709"
        if not self.is_usb:
            controls = {"NoiseReductionMode": 1, "FrameDurationLimits": (33333, 33333)} | controls
        return {"main": dict(main), "lores": dict(lores) if lores else None,
                "raw": None if self.is_usb else {"size": main["size"], **raw}, "buffer_count": buffer_count,
                "colour_space": colour_space, "controls": dict(controls), "sensor": None if self.is_usb else sensor}

    def configure(self, config) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if self.is_usb and config["lores"]:
            # libcamera's UVC pipeline has one stream; picamera2 then reads past it (undefined behaviour)
            raise RuntimeError("a UVC camera has only one stream")
        for name in config["controls"]:
            if name not in self.camera_controls:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
        configured = copy.deepcopy(config)
        if not self.is_usb:
            self.sensor_mode = self._choose_mode(config)
            configured["sensor"] = {"output_size": self.sensor_mode["size"], "bit_depth": self.sensor_mode["bit_depth"]}
            configured["raw"]["size"] = self.sensor_mode["size"]
        lores = configured["lores"]
        lores["size"] = self.lores_configured or lores["size"]
        lores["stride"] = yuv420_stride(lores["size"][0], self.platform)
        configured["main"]["stride"] = configured["main"]["size"][0] * 3
        if self.cma_bytes is not None and self._buffer_bytes(configured) > self.cma_bytes:
            raise OSError(errno.ENOMEM, "Cannot allocate memory")
        self.config = configured

    def _choose_mode(self, config: dict) -> dict:
        """picamera2's _make_libcamera_config: sensor output_size, else the raw stream's size, else main's."""
        sensor = config.get("sensor") or {}
        raw = config.get("raw") or {}
        size = sensor.get("output_size") or raw.get("size") or config["main"]["size"]
        bit_depth = sensor.get("bit_depth") or max(mode["bit_depth"] for mode in self.sensor["modes"])
        if "format" in raw and not sensor.get("output_size"):
            bit_depth = next(mode["bit_depth"] for mode in self.sensor["modes"] if mode["format"] == raw["format"])
        return min(self.sensor["modes"], key=lambda mode: score_mode(mode, bit_depth, tuple(size)))

    @staticmethod
    def _buffer_bytes(config: dict) -> int:
        main, lores, raw = config["main"]["size"], config["lores"]["size"], (config["raw"] or {}).get("size", (0, 0))
        per_frame = main[0] * main[1] * 3 + lores[0] * lores[1] * 3 // 2 + raw[0] * raw[1] * 5 // 4
        return config["buffer_count"] * per_frame

    def field_of_view(self) -> float:
        """How much of the widest view of the main stream's shape the sensor could give it shows (by width):
        the sensor mode's crop, cut to main's shape (libcamera's default ScalerCrop)."""
        assert self.sensor_mode is not None and self.config is not None
        main_w, main_h = self.config["main"]["size"]

        def shown(width: int, height: int) -> float:
            return min(width, height * main_w / main_h)

        return shown(*self.sensor_mode["crop_limits"][2:]) / shown(*self.sensor["array"])

    def focus_metadata(self) -> dict:
        """Where the lens is: continuous AF moves it off libcamera's manual default once frames flow."""
        if not self.sensor.get("lens"):
            return {}
        continuous = self.config is not None and self.config["controls"].get("AfMode") == AF_MODE.Continuous
        return {"AfState": 2 if continuous else 0, "LensPosition": 2.5 if continuous else DEFAULT_LENS_POSITION}

    def camera_configuration(self) -> dict:
        assert self.config is not None
        return self.config

    def start(self) -> None:
        if self._preview is None:
            self.start_preview()  # picamera2's start() runs a NullPreview when no preview was started
        self.started = True

    def start_preview(self, preview=None, **window) -> None:
        if self._preview is not None:
            raise RuntimeError("An event loop is already running")
        self._preview = FakePreview(preview or "NULL")

    def stop_preview(self) -> None:
        if self._preview is None:
            raise RuntimeError("No preview specified.")
        self._preview.stop()
        self._preview = None

    def set_overlay(self, overlay) -> None:
        self.overlay = overlay

    def _loop_running(self) -> bool:
        return self._preview is not None and self._preview.thread.is_alive()

    def capture_request(self, wait=None, signal_function=None):
        job = FakeJob(FakeRequest(self))
        if signal_function is None:
            return job.request
        if self.delivering and self.started and self._loop_running():
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
        if self._preview is not None:
            self.stop_preview()
        self.closed += 1


class OldPicamera2(FakePicamera2):
    """picamera2 0.3.12 (Bookworm's first): no `sensor` argument; a raw stream's size picks the mode."""

    def create_video_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None,  # noqa: B006
                                   buffer_count=6, controls={}, display="main", encode="main",  # noqa: B006
                                   queue=True):
        return self._video_configuration(main, lores, raw, colour_space, buffer_count, controls, {})


def reset() -> None:
    """Back to one Camera Module 3 on a Pi 5 that works."""
    FakePicamera2.platform = "pi5"
    FakePicamera2.cameras = [CSI_CAMERA]
    FakePicamera2.usb_last, FakePicamera2.lores_configured, FakePicamera2.delivering = True, None, True
    FakePicamera2.busy, FakePicamera2.cma_bytes, FakePicamera2.instances = set(), None, []
    FakePicamera2.listed = 0


def modules(cls: type[FakePicamera2] = FakePicamera2) -> dict[str, types.SimpleNamespace]:
    """The picamera2 and libcamera modules to put in sys.modules."""
    colour_spaces = types.SimpleNamespace(Smpte170m=lambda: "Smpte170m", Rec709=lambda: "Rec709")
    return {"picamera2": types.SimpleNamespace(Picamera2=cls, Preview=types.SimpleNamespace(DRM="DRM", NULL="NULL")),
            "libcamera": types.SimpleNamespace(ColorSpace=colour_spaces,
                                               controls=types.SimpleNamespace(AfModeEnum=AF_MODE))}
