"""The model side: the TFLite runtime, the stream classifier, its labels and predictions, and the model files.

Nothing is imported here, so the standard-library-only modules (catalogue, files, labels, download) load
before the venv exists.
"""
