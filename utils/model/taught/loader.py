"""The taught actions a run uses (those of the model in use, read once, before the camera opens), and what it
makes of them: their scores beside the model's, and teaching from a camera."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from utils.config import ANY, DEFAULT_TEACH_SECONDS, TaughtOptions
from utils.errors import ClassifierError
from utils.model.predictions import PredictionFilter
from utils.model.taught.features import Observe
from utils.model.taught.head import min_window_frames
from utils.model.taught.live import LiveTeaching
from utils.model.taught.predictions import TaughtPredictions
from utils.model.taught.store import (
    ActionStore,
    ModelIdentity,
    TaughtAction,
    check_features,
    check_model,
    check_name,
)
from utils.paths import shown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunActions:
    """What the folder and the flags give a run: its actions, and the one it teaches."""

    options: TaughtOptions
    store: ActionStore
    model: ModelIdentity
    actions: tuple[TaughtAction, ...]  # taught with this model, reported unless --taught off
    names: tuple[str, ...]  # the labels they add: those actions, then the one --teach teaches when it is new
    teach: str | None  # the checked --teach (or --teach-background) name
    background: bool = False  # a session records the background of `teach`, a taught action

    def log_loaded(self) -> None:
        """Says which taught actions the run reports (once the checks have passed and the source is open: an
        error stays one line)."""
        if not self.actions:
            return
        log.info("taught actions: %s", "; ".join(f"{a.name!r} ({a.summary})" for a in self.actions))
        once = [a.name for a in self.actions if len(a.sessions) == 1]
        if once:
            log.info("taught in one session only: %s; another session (other clothes, light or moment) makes an "
                     "action hold better: --teach NAME again", ", ".join(repr(name) for name in once))

    def predictions(self, prediction_filter: PredictionFilter, observe: Observe, rate: float,
                    window_frames: int) -> PredictionFilter | TaughtPredictions:
        """The filter with the taught actions' scores beside the model's, when the run reports any.
        `prediction_filter` knows the model's labels followed by `names`."""
        if not self.names:
            return prediction_filter
        return TaughtPredictions(prediction_filter, self.names, self.actions, observe,
                                 min_window_frames(rate, window_frames), only=self.options.taught == "only")

    def live_teaching(self, predictions: PredictionFilter | TaughtPredictions, observe: Observe, rate: float,
                      window_frames: int, source: str) -> LiveTeaching | None:
        """Teaching --teach NAME (or its background) from a camera or stream: started at once, again with the t key
        or button."""
        if self.teach is None:
            return None
        learned = predictions.learn if isinstance(predictions, TaughtPredictions) else lambda name, action: None
        teaching = LiveTeaching(self.teach, self.options.teach_seconds or DEFAULT_TEACH_SECONDS,
                                self.options.teach_countdown, self.store, self.model, observe, rate, window_frames,
                                source, learned, self.background)
        teaching.start()
        return teaching


def check_new_name(name: str, labels: Sequence[str]) -> str:
    """A name for teaching: valid, and not one of the model's own labels (a result must say which it is)."""
    name = check_name(name)
    if name in labels:
        raise ClassifierError(f"{name!r} is already one of the model's labels; give your action another name")
    if any(unicodedata.category(c) == "Cc" for c in name):  # it would break the listing, the screen, the topics
        raise ClassifierError(f"an action name cannot contain a tab or a line break: {name!r}")
    if name == ANY:
        raise ClassifierError(f"{ANY!r} is kept for --event {ANY} (whatever is top-1), so no event could watch this "
                              "action; give your action another name")
    if "," in name:
        log.warning("%r has a comma, so some flags cannot name it: --allow, --deny and --event split their lists at "
                    "commas", name)
    return name


def load_run_actions(options: TaughtOptions, model_path: Path, labels: Sequence[str],
                     feature_size: int = 0) -> RunActions | None:
    """None when the run neither reports nor teaches taught actions. A file in the folder that is not a taught
    action (or not of the model's `feature_size`, when known) stops the run with one line; actions of another
    model are left out with a warning."""
    teach = check_new_name(options.teach, labels) if options.teach is not None else None
    store = ActionStore(options.actions_dir)
    background = options.teach_background is not None
    if background:  # of an action already taught, checked below before the camera opens
        teach = check_name(str(options.teach_background))
    if teach is None and (options.taught == "off" or not store.files()):
        if options.taught == "only":
            raise ClassifierError(f"--taught only, but {shown(store.folder)} holds no taught actions; teach one "
                                  "with --teach NAME")
        return None
    model = ModelIdentity.of(model_path)
    everything = store.read_all()
    mine = tuple(a for a in everything if a.model.sha256 == model.sha256)
    others = [a for a in everything if a.model.sha256 != model.sha256]
    if others and options.taught != "off":
        log.warning("taught actions of another model are left out: %s (%s); teach them again with %s",
                    ", ".join(repr(a.name) for a in others), others[0].model.file, model.file)
    for action in mine:
        if feature_size:
            check_features(action, feature_size, store.path(action.name))
        if action.name in labels:
            raise ClassifierError(f"the taught action {action.name!r} in {shown(store.path(action.name))} has the "
                                  "name of one of the model's labels; --forget it and teach it under another name")
    if teach is not None:
        existing = next((a for a in everything if a.name == teach), None)
        if existing is None and background:
            raise store.missing(teach)
        store.check_writable()
        if existing is not None:
            check_model(existing, model, store.path(teach))
    names = tuple(a.name for a in mine) + ((teach,) if teach and all(a.name != teach for a in mine) else ())
    if options.taught == "off":  # taught with --taught off: saved, not reported
        mine, names = (), ()
    if options.taught == "only" and not names:
        raise ClassifierError(f"--taught only, but {shown(store.folder)} holds no taught actions for "
                              f"{model.file}; teach one with --teach NAME")
    return RunActions(options, store, model, mine, names, teach, background)
