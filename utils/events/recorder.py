"""Recorder: an event's clip (pre-roll + event + post-roll) and its snapshot, written on one thread.

The main loop only copies each frame into a queue (about 0.1 ms at 640x480); JPEG-encoding the pre-roll ring,
encoding clips and writing files happen on the "recorder" thread, so a camera's classification never waits for
the disk (when the thread falls behind, frames are left out of the clips and counted). A file is read as fast
as the recorder keeps up instead, so its clips lose no frame. Files are written under a hidden temporary name
and renamed when complete; a clip being written is synced to disk every few seconds, so a power loss costs
only its last seconds (recovery.py keeps it at the next start).

An event's end is announced once its files are done (the clip ends post-roll seconds after the event): the
recorder reports which files exist and which were lost, and only those that exist are listed.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from utils.events.clip import ClipFormat, ClipWriter, choose_clip_format
from utils.events.disk import Saved, enforce_budget, event_file_names, partial_name, saved_files, warn_about_other_media
from utils.events.outage import Outage, describe
from utils.events.ring import FrameRing, decode
from utils.heap import release_free_memory

log = logging.getLogger(__name__)

# Frames waiting for the thread, in bytes, as the app's memory is bounded (15 raw frames at 640x480 were 14 MB):
# up to RAW_PENDING_BYTES they wait as they are (3 frames at 640x480); beyond, a camera's frames wait as JPEG
# (encoded on the main loop, 1.5 ms at 640x480, only while the thread is behind: about 35 more frames at
# 640x480), and beyond MAX_PENDING_BYTES they are left out of the clips.
RAW_PENDING_BYTES = 3 * 1024 * 1024
MAX_PENDING_BYTES = 5 * 1024 * 1024
RING_MARGIN_S = 0.5   # the ring holds this much more than pre-roll + min-seconds
SNAPSHOT_QUALITY = 90
CLOSE_TIMEOUT_S = 30.0
SYNC_S = 2.0          # open clips are fsynced this often (wall clock)
TRIM_S = 30.0         # the free memory inside the heaps is handed back this often


@dataclass
class _Clip:
    name: str
    start: float          # the first stream time it holds (event start - pre-roll)
    until: float | None   # the last (event end + post-roll), once the event has ended
    writer: ClipWriter | None = None
    frames: int = 0


@dataclass
class _Ending:
    """An event that ended, waiting for its clip (post-roll) before its files are reported."""

    event_id: str
    names: list[str]   # its clip and snapshot
    clip: str | None   # the clip, while the recorder may still be writing it


def write_file(path: Path, data: bytes) -> None:
    """Writes under a temporary name, syncs, renames: `path` is either absent or complete."""
    temp = path.with_name(partial_name(path.name))
    try:
        with temp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class Recorder:
    """Keeps the pre-roll ring and writes clips and snapshots into `folder` (made and checked by the caller)."""

    def __init__(self, folder: Path, pre_roll: float, post_roll: float, min_seconds: float, max_mb: float,
                 fps: float = 0.0, live: bool = True, clip_format: ClipFormat | None = None) -> None:
        self.folder = folder
        self.pre_roll = pre_roll
        self.post_roll = post_roll
        self.max_bytes = max_mb * 1024 * 1024
        self.fps = fps
        self.live = live
        warn_about_other_media(folder)
        self.format = clip_format or choose_clip_format(folder)
        self.ring = FrameRing(pre_roll + min_seconds + RING_MARGIN_S)
        self.dropped = 0
        self.clips_written = 0
        self.thread_cpu_s = 0.0  # CPU time of the recorder thread, for the benchmark
        self._clips: list[_Clip] = []
        self._endings: list[_Ending] = []
        # The files whose writing began (a clip's first frame, a snapshot): one that is missing then was lost.
        # Filled by the thread; read by saved_so_far() too (membership tests of a set are atomic).
        self._begun: set[str] = set()
        self._saved: queue.Queue[Saved] = queue.Queue()  # filled by the thread, emptied by take_saved()
        self._last_sync = self._last_trim = time.monotonic()
        self._queue: queue.Queue[tuple] = queue.Queue()
        self._pending_bytes = 0  # of the frames in the queue: added by add_frame, taken off by the thread
        self._room = threading.Condition()
        self._outage = Outage(f"recording into {folder}", "clips and snapshots are not saved until it works")
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()
        log.info("recording clips as %s into %s", self.format.name, folder)

    # ---- called on the main loop: each returns at once

    def add_frame(self, timestamp: float, image: np.ndarray) -> None:
        """Hands over a frame: a file's waits for room; a camera's waits as JPEG when the thread is behind, and
        is dropped when MAX_PENDING_BYTES wait."""
        if not self.live:
            with self._room:
                self._room.wait_for(lambda: self._fits(image.nbytes, RAW_PENDING_BYTES))
                self._pending_bytes += image.nbytes
            self._queue.put(("frame", timestamp, image.copy(), image.nbytes))  # a copy: the overlay comes next
            return
        with self._room:
            behind = not self._fits(image.nbytes, RAW_PENDING_BYTES)
        frame: np.ndarray | bytes | None = self.ring.encode(image) if behind else image.copy()
        size = image.nbytes if isinstance(frame, np.ndarray) else len(frame or b"")
        with self._room:
            if frame is None or not self._fits(size, MAX_PENDING_BYTES):
                if not self.dropped:
                    log.warning("recorder: the encoder or the disk is too slow for this camera; frames are left "
                                "out of the clips (classification goes on)")
                self.dropped += 1
                return
            self._pending_bytes += size
        self._queue.put(("frame", timestamp, frame, size))

    def _fits(self, size: int, limit: int) -> bool:
        """Room for `size` more bytes of waiting frames (one frame always fits, however large)."""
        return not self._pending_bytes or self._pending_bytes + size <= limit

    def start_clip(self, event_id: str, start: float) -> str:
        """Starts the clip of an event that began at stream time `start`; returns the clip's file name."""
        name, _ = self.file_names(event_id)
        self._queue.put(("start", name, start - self.pre_roll))
        return name

    def end_event(self, event_id: str, clip_name: str | None, end: float, snapshot: np.ndarray | None) -> None:
        """The event ended at `end`: its clip ends post-roll seconds later (or when the recorder closes), and its
        snapshot is replaced by `snapshot` (its peak). A Saved comes out of take_saved() once both are done."""
        self._queue.put(("end", event_id, clip_name, end + self.post_roll, snapshot))

    def save_snapshot(self, event_id: str, image: np.ndarray) -> str:
        """Saves a BGR image as the event's JPEG snapshot (replacing an earlier one whole); returns its name."""
        _, name = self.file_names(event_id)
        self._queue.put(("snapshot", name, image))
        return name

    def take_saved(self) -> list[Saved]:
        """The events whose files are done since the last call (never waits)."""
        saved = []
        while True:
            try:
                saved.append(self._saved.get_nowait())
            except queue.Empty:
                return saved

    def saved_so_far(self, event_id: str) -> Saved:
        """For an event whose end the thread did not report before close() gave up waiting: its clip and
        snapshot as they are now (one that was never begun is not lost)."""
        return saved_files(self.folder, event_id, self.file_names(event_id), self._begun)

    def file_names(self, event_id: str) -> tuple[str, str]:
        """(clip, snapshot) of an event."""
        return event_file_names(event_id, self.format.suffix)

    def close(self) -> None:
        """Finishes every open clip with the frames it has (post-roll cut short) and stops the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(("stop",))
        self._thread.join(CLOSE_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("recorder: still writing after %.0f s; what its clip holds so far is kept at the next start",
                        CLOSE_TIMEOUT_S)
        if self.dropped:
            log.info("recorder: %d frames were left out of the clips: the encoder or the disk was behind",
                     self.dropped)

    # ---- the recorder thread

    def _run(self) -> None:
        while True:
            kind, *args = self._queue.get()
            try:
                if kind == "frame":
                    timestamp, frame, size = args
                    with self._room:
                        self._pending_bytes -= size
                        self._room.notify()
                    self._on_frame(timestamp, frame)
                elif kind == "start":
                    self._start(*args)
                elif kind == "end":
                    self._end_event(*args)
                elif kind == "snapshot":
                    self._snapshot(*args)
                else:
                    break
            except Exception:  # a bug must not leave the main loop feeding a dead thread unnoticed
                log.exception("recorder: unexpected error")
        for clip in list(self._clips):
            self._finish(clip)
        self._report_endings()
        self.thread_cpu_s = time.thread_time()

    def _on_frame(self, timestamp: float, frame: np.ndarray | bytes) -> None:
        if isinstance(frame, bytes):  # it waited as JPEG: decoded only when a clip needs its pixels
            jpeg, image = frame, None
            self.ring.add_jpeg(timestamp, jpeg)
        else:
            jpeg, image = b"", frame
            self.ring.add(timestamp, image)
        open_clips = len(self._clips)
        for clip in list(self._clips):
            if clip.until is not None and timestamp > clip.until:
                self._finish(clip)
            else:
                if image is None:
                    image = decode(jpeg)
                self._write(clip, timestamp, image)
        now = time.monotonic()
        if now - self._last_trim >= TRIM_S:
            self._last_trim = now
            release_free_memory()
        if now - self._last_sync >= SYNC_S:
            self._last_sync = now
            for clip in self._clips:
                if clip.writer is not None:
                    try:
                        clip.writer.sync()
                    except OSError as e:
                        log.debug("recorder: syncing %s: %s", clip.name, e)
        if len(self._clips) < open_clips:  # a clip finished (or failed): its event's files are done
            self._report_endings()

    def _start(self, name: str, start: float) -> None:
        clip = _Clip(name, start, None)
        self._clips.append(clip)
        for timestamp, image in self.ring.since(start):
            self._write(clip, timestamp, image)

    def _end_event(self, event_id: str, clip_name: str | None, until: float, snapshot: np.ndarray | None) -> None:
        names = [clip_name] if clip_name else []
        ending = _Ending(event_id, names, clip_name)
        if snapshot is not None:
            names.append(self._snapshot(self.file_names(event_id)[1], snapshot))
        for clip in self._clips:
            if clip.name == clip_name:
                clip.until = until
        self._endings.append(ending)
        self._report_endings()

    def _report_endings(self) -> None:
        """Hands over the endings whose clip is finished (or failed, or never started): the files that exist."""
        open_clips = {clip.name for clip in self._clips}
        for ending in list(self._endings):
            if ending.clip in open_clips:
                continue
            self._endings.remove(ending)
            self._saved.put(saved_files(self.folder, ending.event_id, ending.names, self._begun))
            self._begun.difference_update(ending.names)

    def _write(self, clip: _Clip, timestamp: float, image: np.ndarray) -> None:
        try:
            if clip.writer is None:
                self._begun.add(clip.name)
                height, width = image.shape[:2]
                clip.writer = self.format.open(self._temp(clip.name), (width, height), self.fps or self.ring.rate())
            clip.writer.write(image, timestamp)
            clip.frames += 1
        except Exception as e:  # disk full, folder gone, encoder error: this clip is lost, the rest goes on
            self._outage.failed(f"cannot write {clip.name}: {describe(e)}")
            self._abort(clip)

    def _finish(self, clip: _Clip) -> None:
        self._clips.remove(clip)
        if clip.writer is None:
            return
        temp = self._temp(clip.name)
        try:
            clip.writer.close()
            with temp.open("rb") as f:
                os.fsync(f.fileno())
            os.replace(temp, self.folder / clip.name)
        except Exception as e:
            self._outage.failed(f"cannot finish {clip.name}: {describe(e)}")
            temp.unlink(missing_ok=True)
            return
        self._outage.ok()
        self.clips_written += 1
        log.info("saved %s (%d frames)", clip.name, clip.frames)
        self._keep_budget()
        release_free_memory()  # the encoder's buffers were freed: keeps a long run's memory flat

    def _abort(self, clip: _Clip) -> None:
        if clip in self._clips:
            self._clips.remove(clip)
        if clip.writer is not None:
            try:
                clip.writer.close()
            except Exception as e:
                log.debug("recorder: closing a failed clip: %s", e)
        self._temp(clip.name).unlink(missing_ok=True)

    def _snapshot(self, name: str, image: np.ndarray) -> str:
        self._begun.add(name)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_QUALITY])
        try:
            if not ok:
                raise OSError("JPEG encoding failed")
            write_file(self.folder / name, jpeg.tobytes())
        except OSError as e:
            self._outage.failed(f"cannot write {name}: {describe(e)}")
            return name
        self._outage.ok()
        self._keep_budget()
        return name

    def _keep_budget(self) -> None:
        try:
            enforce_budget(self.folder, self.max_bytes)
        except OSError as e:
            self._outage.failed(f"cannot list the folder: {describe(e)}")

    def _temp(self, name: str) -> Path:
        return self.folder / partial_name(name)

