"""Actions the user teaches on the Pi: a few seconds of video, a small numpy head on the model's own features.

features: what a window is described by; store: the files; head: the scoring; examples: a teaching session's
examples; predictions: taught actions as labels like any other; loader: what a run uses; live: teaching from a
camera with a countdown.
"""

from utils.model.taught.examples import ExampleRecorder
from utils.model.taught.features import Observation, Observe, observer
from utils.model.taught.head import DEFAULT_TAU, TaughtHead, min_window_frames
from utils.model.taught.live import LiveTeaching
from utils.model.taught.loader import RunActions, check_new_name, load_run_actions
from utils.model.taught.predictions import NONE_OF_THEM, TaughtPredictions
from utils.model.taught.store import ActionStore, Examples, ModelIdentity, Session, TaughtAction, read_action

__all__ = ["DEFAULT_TAU", "NONE_OF_THEM", "ActionStore", "ExampleRecorder", "Examples", "LiveTeaching",
           "ModelIdentity", "Observation", "Observe", "RunActions", "Session", "TaughtAction", "TaughtHead",
           "TaughtPredictions", "check_new_name", "load_run_actions", "min_window_frames", "observer", "read_action"]
