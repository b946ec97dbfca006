"""Where recordings and transcripts are read from: allowed local folders and http(s) URLs.

Source URIs arrive from elsewhere (hooks, queues), so both kinds are boundaries. A local path
is resolved, symlinks and `..` included, before it is compared with the roots. A URL must not
reach this machine's own network (SSRF: cloud metadata, databases, admin ports): its host is
checked at intake and on every redirect hop, and the connection itself resolves the name,
vets every address and connects only to a vetted one, because DNS may answer differently
the second time (rebinding): no byte is sent to an address that was not checked.
"""

from __future__ import annotations

import contextlib
import glob
import ipaddress
import re
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, TypeAlias
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from integrations.errors import IntegrationError, TransientIntegrationError

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_HTTP_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_CHUNK_BYTES = 1024 * 1024
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# The suffix becomes part of a local file name, so only a plain one is kept.
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Hosts a file:// URI may name: RFC 8089 reads both as this machine.
_LOCAL_FILE_HOSTS = frozenset({"", "localhost"})


class AudioSourceError(IntegrationError):
    """A source URI that cannot be read."""


class SourceNotFoundError(AudioSourceError):
    """No such local file, or the server answered 404/410."""


class SourceOutsideRootsError(AudioSourceError):
    """A local path that resolves outside the allowed roots."""


class AddressNotAllowedError(AudioSourceError):
    """A URL whose host is, or resolves to, a non-public address."""


class SourceTooLargeError(AudioSourceError):
    """A download over the configured size limit."""


class SourceUnavailableError(TransientIntegrationError):
    """The server could not be reached or answered 5xx/429: worth asking again later."""


class AudioSources:
    """Turns a source URI (path, ~, file://, http(s)://) into a local file to read.

    `allow_private_addresses` turns the address checks off, for an operator whose recordings
    live on an intranet server.
    """

    def __init__(
        self,
        roots: Sequence[Path],
        *,
        allow_private_addresses: bool = False,
        max_download_bytes: int = 4 * 1024**3,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        downloads: Path | None = None,
    ) -> None:
        self.roots = tuple(root.resolve() for root in roots)
        self._downloads = downloads
        self.allow_private_addresses = allow_private_addresses
        self.max_download_bytes = max_download_bytes
        self._timeout = timeout
        self._transport = transport
        # Built on first download: its TLS context costs ~0.1 s, and most sources are local.
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def check(self, source_uri: str) -> None:
        """Validate at intake, without downloading: a local path (plain, ~, or file://) must
        resolve inside the roots and be a file; an http(s) URL must have a host, and that host
        (a literal IP, or every address a DNS lookup gives) must be allowed. Any other scheme
        is refused (AudioSourceError)."""
        if _scheme(source_uri) in _HTTP_SCHEMES:
            self._check_url(_parse_url(source_uri))
        else:
            self._local_path(source_uri)

    @contextlib.contextmanager
    def fetch(self, source_uri: str, *, owner: str = "") -> Iterator[Path]:
        """Yields a local file to read: the resolved local path itself, or for http(s) a
        temporary file (suffix taken from the URL path, e.g. .wav/.vtt, because readers sniff
        by suffix) that is deleted when the block exits, whatever happens. `owner` (a
        conversation id) names the download, for `remove_downloads`."""
        if _scheme(source_uri) not in _HTTP_SCHEMES:
            yield self._local_path(source_uri)
            return
        path = self._download(_parse_url(source_uri), owner)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    @property
    def downloads(self) -> Path:
        """Where downloads go (the temporary directory unless given), each named by what
        it is for, so deleting a meeting finds its copy even while a worker reads it."""
        return self._downloads or Path(tempfile.gettempdir())

    def remove_downloads(self, owner: str) -> int:
        """Deletes the downloaded copies `owner` has on this machine (a worker reading one
        keeps its open file until it ends); how many there were."""
        if not owner:
            return 0
        removed = 0
        for path in self.downloads.glob(f"minutes-{glob.escape(owner)}-*"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def close(self) -> None:
        """Close the HTTP connections, if any download opened them."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _local_path(self, source_uri: str) -> Path:
        scheme = _scheme(source_uri)
        if scheme == "file":
            try:
                parts = urlsplit(source_uri)
            except ValueError as exc:  # an unclosed IPv6 bracket in the authority
                raise AudioSourceError("malformed file URI") from exc
            # file://server/share/x.wav names another machine's file; reading the local
            # /share/x.wav instead would be a different file than the sender meant.
            if parts.netloc.lower() not in _LOCAL_FILE_HOSTS:
                raise AudioSourceError(
                    f"{_redacted(source_uri)}: a file URI may only name this machine "
                    "(file:///path or file://localhost/path)"
                )
            raw_path = unquote(parts.path)
        elif scheme == "" or len(scheme) == 1:  # a plain or a drive-letter path
            raw_path = source_uri
        else:
            raise AudioSourceError(
                f"{_redacted(source_uri)}: unsupported source (use a local path or an http(s) URL)"
            )
        path = Path(raw_path).expanduser().resolve()
        if not any(path.is_relative_to(root) for root in self.roots):
            raise SourceOutsideRootsError(f"{path}: outside the allowed audio roots")
        if not path.is_file():
            raise SourceNotFoundError(f"{path}: no such file")
        return path

    def _check_url(self, url: httpx.URL) -> None:
        shown = _redacted(str(url))
        # Redirect targets come through here too: a Location may name file:// or ftp://.
        if url.scheme not in _HTTP_SCHEMES:
            raise AudioSourceError(f"{shown}: unsupported source (only http(s) URLs download)")
        host = url.raw_host.decode("ascii")
        if not host:
            raise AudioSourceError(f"{shown}: URL has no host")
        if self.allow_private_addresses:
            return
        try:
            _vetted_addresses(host, _is_public)
        except AddressNotAllowedError as exc:
            raise AddressNotAllowedError(f"{shown}: {exc}") from None
        except socket.gaierror as exc:
            # Transient: a resolver outage and a name that does not exist (yet) look alike.
            raise SourceUnavailableError(f"{shown}: {host} could not be resolved") from exc

    def _http_client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                allowed = _any_address if self.allow_private_addresses else _is_public
                self._client = httpx.Client(
                    timeout=self._timeout,
                    follow_redirects=False,  # every hop is checked in _download
                    # No proxies from the environment: through a proxy the connection goes to
                    # the proxy, and the origin's address could not be vetted.
                    trust_env=False,
                    transport=self._transport or _VettedTransport(allowed),
                    # Audio does not compress; identity keeps Content-Length equal to the
                    # bytes written, so the size limit means what it says.
                    headers={"Accept-Encoding": "identity"},
                )
            return self._client

    def _download(self, first_url: httpx.URL, owner: str) -> Path:
        client = self._http_client()
        url = first_url
        for _ in range(_MAX_REDIRECTS + 1):
            self._check_url(url)
            shown = _redacted(str(url))
            try:
                with client.stream("GET", url) as response:
                    location = _redirect_location(response, shown)
                    if location is None:
                        return self._save(response, shown, _suffix(url, first_url), owner)
            except AddressNotAllowedError as exc:
                # Refused at connect time: the name answered differently than to the check.
                raise AddressNotAllowedError(f"{shown}: {exc}") from None
            except httpx.TransportError as exc:  # connection errors and timeouts
                raise SourceUnavailableError(
                    f"{shown}: download failed ({type(exc).__name__}: {exc})"
                ) from exc
            except httpx.DecodingError as exc:
                raise AudioSourceError(f"{shown}: response body could not be decoded") from exc
            try:
                url = url.join(location)
            except httpx.InvalidURL:
                # from None: httpx's message quotes the Location, which may hold a credential.
                raise AudioSourceError(f"{shown}: redirects to a malformed URL") from None
        raise AudioSourceError(f"{_redacted(str(first_url))}: more than {_MAX_REDIRECTS} redirects")

    def _save(self, response: httpx.Response, shown: str, suffix: str, owner: str) -> Path:
        limit = self.max_download_bytes
        declared: str = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise SourceTooLargeError(f"{shown}: {declared} bytes, over the {limit}-byte limit")
        prefix = f"minutes-{owner}-" if owner else "minutes-"
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=self.downloads)
        path = Path(name)
        try:
            with open(handle, "wb") as file:
                _copy_limited(response, file, limit, shown)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path


class _VettingBackend(httpcore.SyncBackend):
    """Connects only to vetted addresses: the name is resolved here, every address it has
    must be `allowed`, and the socket goes to one of those very addresses, so a second DNS
    answer (rebinding) has nothing to change. TLS still verifies, and SNI and Host still
    name, the URL's host: httpcore takes those from the request, not from this call."""

    def __init__(self, allowed: Callable[[IPAddress], bool]) -> None:
        self._allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _vetted_addresses(host, self._allowed)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"{host} could not be resolved") from exc
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        # In the resolver's order, as socket.create_connection tries them.
        for address in addresses:
            try:
                return super().connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # getaddrinfo answers at least one address or raises
        raise failure


class _VettedTransport(httpx.HTTPTransport):
    """httpx's own transport, over a connection pool that connects through _VettingBackend."""

    def __init__(self, allowed: Callable[[IPAddress], bool]) -> None:
        super().__init__(trust_env=False)
        # httpx 0.28 cannot be handed a network backend (encode/httpx#3749 proposes it), so
        # the pool it built is replaced by the same pool with the backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            keepalive_expiry=5.0,  # httpx's default; httpcore's is none
            network_backend=_VettingBackend(allowed),
        )


def _vetted_addresses(host: str, allowed: Callable[[IPAddress], bool]) -> list[IPAddress]:
    """The addresses of `host` (a literal, or every address a name resolves to), all
    `allowed`; AddressNotAllowedError otherwise, socket.gaierror when the name cannot be
    resolved."""
    literal = _ip_literal(host)
    if literal is not None:
        if not allowed(literal):
            raise AddressNotAllowedError(f"{host} is not a public address")
        return [literal]
    addresses = _resolve(host)
    for address in addresses:
        if not allowed(address):
            raise AddressNotAllowedError(f"{host} resolves to {address}, not a public address")
    return addresses


def _copy_limited(response: httpx.Response, file: IO[bytes], limit: int, shown: str) -> None:
    received = 0
    for chunk in response.iter_bytes(_CHUNK_BYTES):
        received += len(chunk)
        # Counted as it arrives: a chunked body (or a lying Content-Length) has no size up front.
        if received > limit:
            raise SourceTooLargeError(f"{shown}: over the {limit}-byte limit")
        file.write(chunk)


def _redirect_location(response: httpx.Response, shown: str) -> str | None:
    """The Location to follow, None for a body to save; an error for every other status."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    failure = f"{shown}: HTTP {status} {response.reason_phrase}".rstrip()
    if status in _REDIRECT_STATUSES:
        location: str = response.headers.get("Location", "")
        if not location:
            raise AudioSourceError(f"{failure} without a Location")
        return location
    if status in (404, 410):
        raise SourceNotFoundError(failure)
    if status == 429 or status >= 500:
        raise SourceUnavailableError(failure)
    raise AudioSourceError(failure)


def _any_address(address: IPAddress) -> bool:
    """ALLOW_PRIVATE_SOURCES: the operator's recordings are on their own network."""
    return True


def _is_public(address: IPAddress) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses.

    An IPv4 address embedded in IPv6 (mapped, 6to4, NAT64) is judged as itself, since that
    is where the packets go. is_global already excludes loopback, private, link-local,
    unspecified, shared (100.64/10) and documentation ranges, but counts multicast and some
    reserved ranges (::/8, which holds IPv4-compatible addresses) as global.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            address = embedded
    return address.is_global and not address.is_multicast and not address.is_reserved


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:  # a name
        return None


def _resolve(host: str) -> list[IPAddress]:
    """Every address of a name, not the first: the connection may use any of them."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0])) for info in infos]


def _suffix(*urls: httpx.URL) -> str:
    """The first plain suffix among the URLs' paths: a redirect may lead from /meeting.wav
    to an opaque object key, or from an opaque API path to /meeting.wav."""
    for url in urls:
        suffix = PurePosixPath(url.path).suffix
        if _SUFFIX.fullmatch(suffix):
            return suffix
    return ""


def _scheme(source_uri: str) -> str:
    match = _SCHEME.match(source_uri)
    return match.group(1).lower() if match else ""


def _parse_url(source_uri: str) -> httpx.URL:
    try:
        return httpx.URL(source_uri)
    except httpx.InvalidURL:
        # from None: httpx's message quotes the offending part, which may be a credential.
        raise AudioSourceError(f"malformed {_scheme(source_uri)} URL") from None


def _redacted(uri: str) -> str:
    """scheme://host/path of a URI: its credentials and query string may hold secrets."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:  # an unclosed IPv6 bracket
        return f"malformed {_scheme(uri)} URI"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{parts.path}"
