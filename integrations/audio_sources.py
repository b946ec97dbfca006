"""Where recordings and transcripts are read from: local folders the operator allows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from integrations.errors import IntegrationError


class AudioSourceError(IntegrationError):
    """A source URI that cannot be read."""


class SourceNotFoundError(AudioSourceError):
    pass


class SourceOutsideRootsError(AudioSourceError):
    pass


class LocalAudioSource:
    """Resolves a source URI (a path or a file:// URI) to a file inside the allowed roots.

    The roots are the boundary for URIs that arrive from elsewhere (hooks, queues): a path
    is resolved, symlinks and `..` included, before it is compared, so nothing escapes them.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(root.resolve() for root in roots)

    def resolve(self, source_uri: str) -> Path:
        parsed = urlparse(source_uri)
        if parsed.scheme == "file":
            raw_path = unquote(parsed.path)
        elif parsed.scheme == "" or len(parsed.scheme) == 1:  # a plain or a drive-letter path
            raw_path = source_uri
        else:
            raise AudioSourceError(f"{source_uri}: unsupported source (use a local path)")
        path = Path(raw_path).expanduser().resolve()
        if not any(path.is_relative_to(root) for root in self.roots):
            raise SourceOutsideRootsError(f"{path}: outside the allowed audio roots")
        if not path.is_file():
            raise SourceNotFoundError(f"{path}: no such file")
        return path
