"""Where results go: JSON lines, a terminal status line, a window, the web view, the Pi's DRM preview.

Each output is one small Sink; make_sinks picks them from the options.
"""

from __future__ import annotations

from utils.sinks.base import Command, Sink, Status, Update
from utils.sinks.factory import make_sinks
from utils.sinks.json_lines import JsonSink
from utils.sinks.status_line import StatusLineSink
from utils.sinks.window import WindowSink

__all__ = ["Command", "JsonSink", "Sink", "Status", "StatusLineSink", "Update", "WindowSink", "make_sinks"]
