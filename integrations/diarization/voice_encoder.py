"""Resemblyzer's voice encoder in numpy: a voice print (256 numbers) for a stretch of speech.

The weights (`pretrained.pt`, Apache-2.0) ship inside the `resemblyzer` package, which the
project installs without its dependencies: the package's own code needs torch (a 3 GB
install here) only to run three LSTM layers and a linear one, which numpy does as well.
So the package is never imported, only its weights file is read, and everything the
package does to audio before the network (its hparams.py and audio.py) is repeated here:
40-channel mel power spectrograms (not log) of 16 kHz audio, 25 ms windows every 10 ms,
with librosa's Slaney mel filterbank, the audio raised to -30 dBFS first.
"""

from __future__ import annotations

import collections
import functools
import importlib.util
import math
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from integrations.diarization.base import DiarizerUnavailableError

SAMPLE_RATE = 16_000
# 10 ms hop: one spectrogram frame per 160 samples.
FRAME_SAMPLES = 160
EMBEDDING_SIZE = 256
_N_FFT = 400  # 25 ms
_N_MELS = 40
_HIDDEN = 256
_LAYERS = 3
_TARGET_DBFS = -30.0
# Frames whose spectra are computed at once: 10 s of audio, a few MB.
_MEL_BLOCK = 1000

_Floats = npt.NDArray[np.float32]


def weights_path() -> Path:
    """Where the installed `resemblyzer` package keeps `pretrained.pt`.

    Found without importing the package: its __init__ imports torch.
    """
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise DiarizerUnavailableError(
            "the voice encoder's weights are not installed: "
            "pip install --no-deps 'resemblyzer>=0.1.4'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise DiarizerUnavailableError(f"the voice encoder's weights are missing: {path}")
    return path


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    size: int


@dataclass(frozen=True, slots=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


class _CheckpointUnpickler(pickle.Unpickler):
    """Reads torch's legacy (pre-zip) checkpoint pickle, tensors as references.

    Only what a float32 state dict holds is allowed: anything else in the file is refused
    rather than run, as unpickling arbitrary classes would execute code.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch", "FloatStorage"):
            return np.float32
        if (module, name) == ("collections", "OrderedDict"):
            # Not plain dict: torch sets a `_metadata` attribute on its state dicts.
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the voice encoder weights")

    def persistent_load(self, pid: Any) -> _StorageRef:
        # ("storage", storage type, key, device, number of elements, view metadata)
        _kind, storage_type, key, _device, size, _view = pid
        if storage_type is not np.float32:
            raise pickle.UnpicklingError("the voice encoder weights are not float32")
        return _StorageRef(key=str(key), size=int(size))


def _rebuild_tensor(
    storage: _StorageRef, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage=storage, offset=offset, shape=tuple(shape), stride=tuple(stride))


def load_state(path: Path) -> dict[str, _Floats]:
    """The `model_state` tensors of a legacy torch checkpoint, as float32 numpy arrays.

    The format: pickles of the magic number, protocol version and system info; the
    object pickle whose tensors point at storages by key; the list of storage keys; then
    each storage in that order as an int64 element count and its raw little-endian data.
    """
    with path.open("rb") as file:
        for _header in range(3):
            _CheckpointUnpickler(file).load()
        checkpoint = _CheckpointUnpickler(file).load()
        keys: list[str] = _CheckpointUnpickler(file).load()
        state: dict[str, _TensorRef] = checkpoint["model_state"]
        wanted = {tensor.storage.key for tensor in state.values()}
        storages = {key: _read_storage(file, key in wanted) for key in keys}
    return {
        name: np.lib.stride_tricks.as_strided(
            storages[tensor.storage.key][tensor.offset :],
            shape=tensor.shape,
            strides=tuple(4 * step for step in tensor.stride),
        ).copy()
        for name, tensor in state.items()
    }


def _read_storage(file: IO[bytes], keep: bool) -> _Floats:
    (count,) = struct.unpack("<q", file.read(8))
    if not keep:
        # The optimizer's moments fill most of the file; only the model's storages are read.
        file.seek(4 * count, 1)
        return np.empty(0, dtype=np.float32)
    return np.frombuffer(file.read(4 * count), dtype="<f4").astype(np.float32)


@functools.cache
def _mel_filterbank() -> _Floats:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney's mel scale and norm."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + _N_FFT // 2)
    mel_points = np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), _N_MELS + 2)
    mel_freqs = _mel_to_hz(mel_points)
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    # Slaney normalisation: each triangle has the same area.
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


# Slaney's mel scale: linear below 1 kHz (200/3 Hz a mel), logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    if hz < _MIN_LOG_HZ:
        return hz / _F_SP
    return float(_MIN_LOG_MEL + np.log(hz / _MIN_LOG_HZ) / _LOG_STEP)


def _mel_to_hz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = _F_SP * mels
    logarithmic = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mels - _MIN_LOG_MEL))
    return np.where(mels >= _MIN_LOG_MEL, logarithmic, linear)


def _volume_gain(audio: _Floats) -> float:
    """The factor that raises quiet audio to -30 dBFS, as the encoder was trained; loud stays."""
    # norm() goes through BLAS without a squared copy of the audio (an hour is 230 MB).
    rms = float(np.linalg.norm(audio)) / math.sqrt(len(audio)) if len(audio) else 0.0
    if rms == 0.0:
        return 1.0
    change_db = _TARGET_DBFS - 20 * math.log10(rms)
    return 10 ** (change_db / 20) if change_db > 0 else 1.0


def mel_frames(audio: _Floats) -> _Floats:
    """What the encoder reads: 40 mel power bands (not log) per 10 ms of 16 kHz audio.

    Frame i is centred on sample 160 i, as librosa's melspectrogram with center=True (zero
    padding) and a periodic Hann window; the audio's volume raised as Resemblyzer's
    preprocess_wav does first.
    """
    count = 1 + len(audio) // FRAME_SAMPLES
    window = np.hanning(_N_FFT + 1)[:-1].astype(np.float32)  # periodic, as scipy's get_window
    # Power grows with the square of the amplitude: scale the bands, not a copy of the audio.
    filterbank = _mel_filterbank().T * np.float32(_volume_gain(audio) ** 2)
    mels = np.empty((count, _N_MELS), dtype=np.float32)
    # In blocks, each padded on its own: spectra, or a padded copy, of a whole hour at once
    # would take gigabytes.
    for first in range(0, count, _MEL_BLOCK):
        last = min(first + _MEL_BLOCK, count)
        low = first * FRAME_SAMPLES - _N_FFT // 2
        high = (last - 1) * FRAME_SAMPLES + _N_FFT // 2
        piece = np.pad(audio[max(low, 0) : high], (max(-low, 0), max(high - len(audio), 0))).astype(
            np.float32
        )
        frames = np.lib.stride_tricks.as_strided(
            piece,
            shape=(last - first, _N_FFT),
            strides=(piece.strides[0] * FRAME_SAMPLES, piece.strides[0]),
            writeable=False,
        )
        power = np.square(np.abs(np.fft.rfft(frames * window, axis=1)))
        mels[first:last] = power @ filterbank
    return mels


def _sigmoid(values: _Floats) -> _Floats:
    # tanh rather than exp: no overflow for large negative inputs.
    result: _Floats = (0.5 * (1.0 + np.tanh(0.5 * values))).astype(np.float32)
    return result


@dataclass(frozen=True, slots=True)
class _Layer:
    input_weights: _Floats  # (in, 4 hidden): torch's weight_ih transposed
    hidden_weights: _Floats  # (hidden, 4 hidden)
    bias: _Floats  # bias_ih + bias_hh


class VoiceEncoder:
    """Resemblyzer's speaker encoder: mel frames in, L2-normalised 256-d voice prints out."""

    def __init__(self, state: dict[str, _Floats]) -> None:
        self._layers = [
            _Layer(
                input_weights=np.ascontiguousarray(state[f"lstm.weight_ih_l{k}"].T),
                hidden_weights=np.ascontiguousarray(state[f"lstm.weight_hh_l{k}"].T),
                bias=state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"],
            )
            for k in range(_LAYERS)
        ]
        self._linear_weights = np.ascontiguousarray(state["linear.weight"].T)
        self._linear_bias = state["linear.bias"]

    @classmethod
    def pretrained(cls) -> VoiceEncoder:
        """The encoder with the weights the resemblyzer package ships (loaded once)."""
        return _pretrained()

    def embed(self, mels: _Floats) -> _Floats:
        """Voice prints of a batch of equally long mel sequences (batch, frames, 40).

        Returns (batch, 256), each row of unit length: the last layer's final hidden state
        through the linear layer and a ReLU, then L2-normalised, as Resemblyzer's forward().
        """
        sequence = mels.astype(np.float32)
        hidden = np.zeros((len(mels), _HIDDEN), dtype=np.float32)
        for layer in self._layers:
            sequence, hidden = _run_layer(layer, sequence)
        raw = np.maximum(hidden @ self._linear_weights + self._linear_bias, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        # A print of all zeros (ReLU cut everything) has no direction; leave it zero.
        result: _Floats = (raw / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        return result


def _run_layer(layer: _Layer, sequence: _Floats) -> tuple[_Floats, _Floats]:
    """One LSTM layer over (batch, time, in): all hidden states and the last one.

    torch's gate order in the weight rows: input, forget, cell, output.
    """
    batch, steps, _ = sequence.shape
    # The input's share of every gate at every step in one product; only the recurrent
    # part has to go step by step.
    projected = sequence @ layer.input_weights
    projected += layer.bias
    hidden = np.zeros((batch, _HIDDEN), dtype=np.float32)
    cell = np.zeros((batch, _HIDDEN), dtype=np.float32)
    outputs = np.empty((batch, steps, _HIDDEN), dtype=np.float32)
    for step in range(steps):
        gates = projected[:, step] + hidden @ layer.hidden_weights
        input_gate = _sigmoid(gates[:, :_HIDDEN])
        forget_gate = _sigmoid(gates[:, _HIDDEN : 2 * _HIDDEN])
        candidate = np.tanh(gates[:, 2 * _HIDDEN : 3 * _HIDDEN])
        output_gate = _sigmoid(gates[:, 3 * _HIDDEN :])
        cell = forget_gate * cell + input_gate * candidate
        hidden = output_gate * np.tanh(cell)
        outputs[:, step] = hidden
    return outputs, hidden


@functools.cache
def _pretrained() -> VoiceEncoder:
    # 17 MB read and reshaped once per process; every diarizer shares it.
    return VoiceEncoder(load_state(weights_path()))
