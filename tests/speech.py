"""Speech rendered in a test with espeak-ng and sox (never committed): scripted sentences in
a few languages, and the same speech at a phone's 8 kHz."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# A short meeting opening in each language: names, a plan, an accented word or two.
SCRIPTS = {
    "de": (
        "Guten Morgen zusammen. Heute besprechen wir den Zeitplan für die neue Version. "
        "Die Prüfung der Datenbank dauert länger als geplant, deshalb verschieben wir die "
        "Veröffentlichung auf nächsten Freitag."
    ),
    "es": (
        "Buenos días a todos. Hoy vamos a revisar el presupuesto del próximo trimestre. "
        "La campaña de publicidad costó más de lo previsto, así que necesitamos reducir "
        "los gastos."
    ),
    "fr": (
        "Bonjour à tous. Aujourd'hui nous parlons du calendrier de la nouvelle application. "
        "La sécurité des données est très importante, donc l'équipe vérifiera le système "
        "avant la publication."
    ),
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: apt-get install espeak-ng sox (scripts/services.sh)")
    return path


def render_speech(text: str, voice: str, path: Path) -> Path:
    """`text` spoken by espeak-ng's `voice` ("de", "es", "fr", "en-us") to a 16 kHz WAV."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run([_tool("espeak-ng"), "-v", voice, "-w", str(raw), text], check=True)
    # norm: espeak-ng speaks at full scale, which resampling would clip.
    subprocess.run(
        [_tool("sox"), str(raw), "-r", "16000", "-c", "1", str(path), "norm", "-3"], check=True
    )
    raw.unlink()
    return path


def at_rate(source: Path, rate: int, path: Path) -> Path:
    """`source` resampled by sox to `rate` Hz: a phone call's 8000, say."""
    subprocess.run([_tool("sox"), str(source), "-r", str(rate), "-c", "1", str(path)], check=True)
    return path
