"""Real-time MoViNet action classification for the Raspberry Pi: source -> model -> sinks.

    utils.sources   frames from the Pi camera, USB cameras, files and streams
    utils.model     the TFLite runtime, the stream classifier, labels, predictions, model files
    utils.sinks     JSON lines, status line, window, web view, DRM preview
    utils.pipeline  the loop that joins them

Nothing is imported here, so the standard-library-only modules (utils.model.download, run by
download_models.sh before the venv exists) load without numpy or OpenCV.
"""

__version__ = "1.1.0"
