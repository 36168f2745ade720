"""Stop: the run's stop request, set by Ctrl-C, SIGTERM and SIGHUP, a window's q key or a closed pipe."""

from __future__ import annotations

import threading


class Stop(threading.Event):
    """Set to end the run. While frames flow (`in_loop`, set by the pipeline), a signal finishes the current
    frame first; at any other time (loading the model, opening a FIFO or a stream, closing) there is nothing
    to finish, so a signal stops at once."""

    in_loop = False
    # While the app's modules are imported, and once the run is over, a signal only sets the event: raised
    # inside an import, KeyboardInterrupt comes out of numpy or OpenCV as an ImportError with a traceback, and
    # raised while Python exits, as an "Exception ignored" traceback.
    deferred = False
