"""The one exception type for failures the user should read."""


class ClassifierError(Exception):
    """A problem with the user's input, model or camera, with a one-line message saying what to do.

    classify.py prints it on one line and exits non-zero; nothing in utils/ calls sys.exit.
    """
