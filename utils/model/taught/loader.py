"""The taught actions a run uses: those of the model in use, read once, before the camera opens."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from utils.config import TaughtOptions
from utils.errors import ClassifierError
from utils.model.taught.store import ActionStore, ModelIdentity, TaughtAction, check_model, check_name
from utils.paths import shown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunActions:
    store: ActionStore
    model: ModelIdentity
    actions: tuple[TaughtAction, ...]  # taught with this model, reported unless --taught off
    names: tuple[str, ...]  # the labels they add: those actions, then the one --teach teaches when it is new
    teach: str | None  # the checked --teach name


def check_new_name(name: str, labels: Sequence[str]) -> str:
    """A name for teaching: valid, and not one of the model's own labels (a result must say which it is)."""
    name = check_name(name)
    if name in labels:
        raise ClassifierError(f"{name!r} is already one of the model's labels; give your action another name")
    return name


def load_run_actions(options: TaughtOptions, model_path: Path, labels: Sequence[str]) -> RunActions | None:
    """None when the run neither reports nor teaches taught actions. A file in the folder that is not a taught
    action stops the run with one line; actions of another model are left out with a warning."""
    teach = check_new_name(options.teach, labels) if options.teach is not None else None
    store = ActionStore(options.actions_dir)
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
        if action.name in labels:
            raise ClassifierError(f"the taught action {action.name!r} in {shown(store.path(action.name))} has the "
                                  "name of one of the model's labels; --forget it and teach it under another name")
    if teach is not None:
        existing = next((a for a in everything if a.name == teach), None)
        if existing is not None:
            check_model(existing, model, store.path(teach))
    names = tuple(a.name for a in mine) + ((teach,) if teach and all(a.name != teach for a in mine) else ())
    if options.taught == "off":  # taught with --taught off: saved, not reported
        mine, names = (), ()
    if options.taught == "only" and not names:
        raise ClassifierError(f"--taught only, but {shown(store.folder)} holds no taught actions for "
                              f"{model.file}; teach one with --teach NAME")
    return RunActions(store, model, mine, names, teach)
