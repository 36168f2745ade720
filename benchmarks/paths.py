"""The files the measurements use: the project's models when downloaded (else ../shared beside the checkout), the
repository's test clips, and the larger clip set in ../shared."""

from __future__ import annotations

from pathlib import Path

from utils.paths import DEFAULT_LABELS, DEFAULT_MODEL, PROJECT_DIR

SHARED = PROJECT_DIR.parent / "shared"
MEDIA = SHARED / "media"  # the eight clips of the multi-clip measurements
TEST_CLIPS = PROJECT_DIR / "tests" / "data"  # in the repository (tests/data/SOURCES.md)
DEFAULT_CLIP = TEST_CLIPS / "carving_ice.mp4"


def model_file(default: Path) -> Path:
    """models/<name> in this checkout, else ../shared/models/<name> (a dev checkout)."""
    shared = SHARED / "models" / default.name
    return default if default.is_file() or not shared.is_file() else shared


MODEL = model_file(DEFAULT_MODEL)
LABELS = model_file(DEFAULT_LABELS)

# The Kinetics-600 action each of the eight shared clips shows (../shared/media/README.md).
CLIPS = {
    "carving ice": MEDIA / "carving_ice.mp4",
    "arm wrestling": MEDIA / "arm_wrestling.mp4",
    "cleaning pool": MEDIA / "cleaning_pool_mmaction2.mp4",
    "flipping pancake": MEDIA / "flipping_pancake_decord.mp4",
    "playing bass guitar": MEDIA / "playing_bass_guitar_askanything.mp4",
    "juggling soccer ball": MEDIA / "juggling_soccer_ball_sam2.mp4",
    "walking the dog": MEDIA / "walking_the_dog_videofeatures.mp4",
    "putting on lipstick": MEDIA / "putting_on_lipstick_jfzhang95.mp4",
}
