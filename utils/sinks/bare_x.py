"""Finds and repairs the app's window when Qt never paints it, on an X server without a window manager.

pip's OpenCV draws its window with Qt 5.15's xcb plugin. Qt paints a window only once it has handled the
window's MapNotify (QXcbWindow::handleMapNotifyEvent sets m_mapped, which isExposed() returns; until then
QWidgetRepaintManager keeps every update pending). On a bare X server (Xvfb, `startx` without a desktop) that
MapNotify is sometimes never handled while the window is being created (Qt's own event log shows it missing,
the X server shows the window mapped), and nothing sends another one, so the window stays black for the whole
run. A window manager maps windows itself, later, which is why desktops do not see it. Unmapping and mapping
the window again from a second connection makes the X server send Qt a fresh UnmapNotify and MapNotify; the
middle of the window, read back from the X server, tells whether it worked.

libxcb through ctypes (it is what Qt itself uses, so it is there wherever the window is): no new package.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

import numpy as np

log = logging.getLogger(__name__)

_WINDOW_MANAGER_CHECK = b"_NET_SUPPORTING_WM_CHECK"  # set on the root window by every EWMH window manager
_PID = b"_NET_WM_PID"
_UTF8_NAME = b"_NET_WM_NAME"
_ANY_TYPE = 0
_Z_PIXMAP = 2
PATCH = 64  # pixels on a side of the window's middle read back
TOLERANCE = 40.0  # grey levels: a painted window is this close to the picture on average, an unpainted one is black


class _Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class _InternAtomReply(ctypes.Structure):
    _fields_ = [("response_type", ctypes.c_uint8), ("pad0", ctypes.c_uint8), ("sequence", ctypes.c_uint16),
                ("length", ctypes.c_uint32), ("atom", ctypes.c_uint32)]


class _GeometryReply(ctypes.Structure):
    _fields_ = [("response_type", ctypes.c_uint8), ("depth", ctypes.c_uint8), ("sequence", ctypes.c_uint16),
                ("length", ctypes.c_uint32), ("root", ctypes.c_uint32), ("x", ctypes.c_int16), ("y", ctypes.c_int16),
                ("width", ctypes.c_uint16), ("height", ctypes.c_uint16), ("border_width", ctypes.c_uint16)]


class _ScreenIterator(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint32)), ("rem", ctypes.c_int), ("index", ctypes.c_int)]


def _load() -> tuple[ctypes.CDLL, ctypes.CDLL] | None:
    name = ctypes.util.find_library("xcb")
    if name is None:
        return None
    xcb, libc = ctypes.CDLL(name), ctypes.CDLL(None)
    pointer, cookie = ctypes.c_void_p, _Cookie
    for function, restype, argtypes in (
            ("xcb_connect", pointer, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
            ("xcb_connection_has_error", ctypes.c_int, [pointer]),
            ("xcb_disconnect", None, [pointer]),
            ("xcb_flush", ctypes.c_int, [pointer]),
            ("xcb_get_setup", pointer, [pointer]),
            ("xcb_setup_roots_iterator", _ScreenIterator, [pointer]),
            ("xcb_intern_atom", cookie, [pointer, ctypes.c_uint8, ctypes.c_uint16, ctypes.c_char_p]),
            ("xcb_intern_atom_reply", ctypes.POINTER(_InternAtomReply), [pointer, cookie, pointer]),
            ("xcb_query_tree", cookie, [pointer, ctypes.c_uint32]),
            ("xcb_query_tree_reply", pointer, [pointer, cookie, pointer]),
            ("xcb_query_tree_children", ctypes.POINTER(ctypes.c_uint32), [pointer]),
            ("xcb_query_tree_children_length", ctypes.c_int, [pointer]),
            ("xcb_get_property", cookie, [pointer, ctypes.c_uint8, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
                                          ctypes.c_uint32, ctypes.c_uint32]),
            ("xcb_get_property_reply", pointer, [pointer, cookie, pointer]),
            ("xcb_get_property_value", pointer, [pointer]),
            ("xcb_get_property_value_length", ctypes.c_int, [pointer]),
            ("xcb_get_geometry", cookie, [pointer, ctypes.c_uint32]),
            ("xcb_get_geometry_reply", ctypes.POINTER(_GeometryReply), [pointer, cookie, pointer]),
            ("xcb_get_image", cookie, [pointer, ctypes.c_uint8, ctypes.c_uint32, ctypes.c_int16, ctypes.c_int16,
                                       ctypes.c_uint16, ctypes.c_uint16, ctypes.c_uint32]),
            ("xcb_get_image_reply", pointer, [pointer, cookie, pointer]),
            ("xcb_get_image_data", ctypes.POINTER(ctypes.c_uint8), [pointer]),
            ("xcb_get_image_data_length", ctypes.c_int, [pointer]),
            ("xcb_unmap_window", cookie, [pointer, ctypes.c_uint32]),
            ("xcb_map_window", cookie, [pointer, ctypes.c_uint32])):
        getattr(xcb, function).restype = restype
        getattr(xcb, function).argtypes = argtypes
    libc.free.argtypes = [pointer]
    return xcb, libc


class _Connection:
    """The few requests needed, each reply freed at once."""

    def __init__(self, xcb: ctypes.CDLL, libc: ctypes.CDLL, display: str) -> None:
        self.xcb, self.libc = xcb, libc
        self.c = xcb.xcb_connect(display.encode(), None)
        if xcb.xcb_connection_has_error(self.c):
            xcb.xcb_disconnect(self.c)
            raise OSError(f"cannot connect to the X server {display}")
        self.root = xcb.xcb_setup_roots_iterator(xcb.xcb_get_setup(self.c)).data[0]  # xcb_screen_t starts with root

    def atom(self, name: bytes) -> int:
        reply = self.xcb.xcb_intern_atom_reply(self.c, self.xcb.xcb_intern_atom(self.c, 0, len(name), name), None)
        if not reply:
            return 0
        atom = reply.contents.atom
        self.libc.free(reply)
        return atom

    def children(self, window: int) -> list[int]:
        reply = self.xcb.xcb_query_tree_reply(self.c, self.xcb.xcb_query_tree(self.c, window), None)
        if not reply:
            return []
        found = self.xcb.xcb_query_tree_children(reply)
        children = [found[i] for i in range(self.xcb.xcb_query_tree_children_length(reply))]
        self.libc.free(reply)
        return children

    def property(self, window: int, atom: int) -> bytes:
        cookie = self.xcb.xcb_get_property(self.c, 0, window, atom, _ANY_TYPE, 0, 1024)
        reply = self.xcb.xcb_get_property_reply(self.c, cookie, None)
        if not reply:
            return b""
        value = ctypes.string_at(self.xcb.xcb_get_property_value(reply),
                                 self.xcb.xcb_get_property_value_length(reply))
        self.libc.free(reply)
        return value

    def centre(self, window: int) -> tuple[np.ndarray, tuple[int, int]] | None:
        """The BGR pixels of the middle of `window` (at most PATCH x PATCH) as the X server has them, and the
        window's (width, height); None if it cannot be read (unmapped, gone, not 24/32-bit)."""
        geometry = self.xcb.xcb_get_geometry_reply(self.c, self.xcb.xcb_get_geometry(self.c, window), None)
        if not geometry:
            return None
        size, depth = (geometry.contents.width, geometry.contents.height), geometry.contents.depth
        self.libc.free(geometry)
        width, height = min(PATCH, size[0]), min(PATCH, size[1])
        cookie = self.xcb.xcb_get_image(self.c, _Z_PIXMAP, window, (size[0] - width) // 2, (size[1] - height) // 2,
                                        width, height, 0xFFFFFFFF)
        reply = self.xcb.xcb_get_image_reply(self.c, cookie, None)
        if not reply:
            return None
        data = ctypes.string_at(self.xcb.xcb_get_image_data(reply), self.xcb.xcb_get_image_data_length(reply))
        self.libc.free(reply)
        if depth not in (24, 32) or len(data) != width * height * 4:
            return None
        return np.frombuffer(data, np.uint8).reshape(height, width, 4)[..., :3], size  # BGRX, little-endian

    def close(self) -> None:
        self.xcb.xcb_disconnect(self.c)


def _bare_x(display: str | None) -> _Connection | None:
    """A connection to `display` (default: $DISPLAY) when no window manager runs there, else None."""
    display = display if display is not None else os.environ.get("DISPLAY", "")
    loaded = _load() if display else None
    if loaded is None:
        return None
    try:
        connection = _Connection(*loaded, display)
    except OSError as e:
        log.debug("window: %s", e)
        return None
    if connection.property(connection.root, connection.atom(_WINDOW_MANAGER_CHECK)):
        connection.close()  # a window manager maps the windows itself
        return None
    return connection


def _own_windows(connection: _Connection, title: str, pid: int | None) -> list[int]:
    """This process's top-level windows named `title` (Qt sets _NET_WM_PID and _NET_WM_NAME on its windows)."""
    pid_atom, name_atom = connection.atom(_PID), connection.atom(_UTF8_NAME)
    me = (os.getpid() if pid is None else pid).to_bytes(4, sys.byteorder)  # xcb hands values in our order
    return [window for window in connection.children(connection.root)
            if connection.property(window, pid_atom) == me and connection.property(window, name_atom) == title.encode()]


def on_bare_x(display: str | None = None) -> bool:
    """An X server without a window manager is at `display` (default: $DISPLAY)."""
    connection = _bare_x(display)
    if connection is not None:
        connection.close()
    return connection is not None


def remap_on_bare_x(title: str, display: str | None = None, pid: int | None = None) -> bool:
    """Unmaps and maps again this process's top-level windows named `title`, when no window manager runs on
    `display` (default: $DISPLAY). Returns whether it did; never raises (the window only risks staying black)."""
    connection = _bare_x(display)
    if connection is None:
        return False
    try:
        ours = _own_windows(connection, title, pid)
        for window in ours:
            connection.xcb.xcb_unmap_window(connection.c, window)
            connection.xcb.xcb_map_window(connection.c, window)
        connection.xcb.xcb_flush(connection.c)
        return bool(ours)
    finally:
        connection.close()


def shows(title: str, image: np.ndarray, display: str | None = None) -> bool | None:
    """Whether this process's window named `title` shows `image` (the mean colour of its middle, within
    TOLERANCE grey levels) on a bare X server; None when that cannot be told: a window manager runs, there is no
    such window, or the middle of `image` is too dark to tell from an unpainted (black) window."""
    connection = _bare_x(display)
    if connection is None:
        return None
    try:
        windows = _own_windows(connection, title, None)
        read = connection.centre(windows[0]) if windows else None
    finally:
        connection.close()
    if read is None:
        return None
    patch, (width, height) = read
    rows, columns = image.shape[:2]
    # The window shows the image scaled to its size: the same middle, scaled.
    half_h, half_w = max(1, patch.shape[0] * rows // height // 2), max(1, patch.shape[1] * columns // width // 2)
    expected = image[rows // 2 - half_h:rows // 2 + half_h, columns // 2 - half_w:columns // 2 + half_w]
    if float(expected.mean()) < TOLERANCE:
        return None
    return abs(float(patch.mean()) - float(expected.mean())) < TOLERANCE
