from __future__ import annotations

import http.server
import ipaddress
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations import audio_sources
from integrations.audio_sources import (
    AddressNotAllowedError,
    AudioSourceError,
    AudioSources,
    SourceNotFoundError,
    SourceOutsideRootsError,
    SourceTooLargeError,
    SourceUnavailableError,
)
from integrations.errors import TransientIntegrationError

PAYLOAD = bytes(range(256)) * 64  # 16 KiB, every byte value
# A global unicast address: literal, so its check needs no DNS. Only ever "reached" through
# httpx.MockTransport, so nothing leaves the process.
PUBLIC_IP = "93.184.216.34"

MakeSources = Callable[..., AudioSources]
real_resolve = audio_sources._resolve


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes by path: /audio/<name>, /hops/<n>/<name> (n redirects, then the file),
    /redirect?to=<url>, /status/<code>, /chunked/<name>, /truncated/<name>, /badgzip/<name>."""

    protocol_version = "HTTP/1.1"  # chunked bodies need it

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        _, route, *rest = parts.path.split("/")
        try:
            if route == "audio":
                self._send(200, PAYLOAD)
            elif route == "hops" and int(rest[0]) > 0:
                self._redirect(f"/hops/{int(rest[0]) - 1}/{rest[1]}")
            elif route == "hops":
                self._send(200, PAYLOAD)
            elif route == "redirect":
                self._redirect(parse_qs(parts.query)["to"][0])
            elif route == "status":
                self._send(int(rest[0]), b"")
            elif route == "chunked":
                self._send_chunked(PAYLOAD)
            elif route == "truncated":
                self._send_truncated(PAYLOAD)
            elif route == "badgzip":
                self._send_bad_gzip()
            else:
                self._send(404, b"")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on purpose (size limit): not a server failure

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_chunked(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(body), 4096):
            chunk = body[start : start + 4096]
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _send_truncated(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True

    def _send_bad_gzip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")  # despite the client's identity-only
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Base URL of a real HTTP server on loopback: downloads from it need
    allow_private_addresses=True, which is the operator's intranet switch."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    # A short poll so shutdown() returns at once rather than after the default 0.5 s.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class _Listener:
    """A loopback port that accepts connections and never answers: counts who came."""

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self.port: int = sock.getsockname()[1]

    def connections(self) -> int:
        # The kernel completes a connection without accept(); draining the backlog counts it.
        count = 0
        while True:
            try:
                accepted, _ = self._socket.accept()
            except BlockingIOError:
                return count
            accepted.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[_Listener]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.setblocking(False)
        yield _Listener(sock)


@pytest.fixture
def downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory temporary downloads land in, so a test can see what is left behind."""
    directory = tmp_path / "downloads"
    directory.mkdir()
    # tempfile.tempdir is the documented override of the default temporary directory.
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "root"
    directory.mkdir()
    return directory


@pytest.fixture
def make_sources(root: Path, downloads: Path) -> Iterator[MakeSources]:
    made: list[AudioSources] = []

    def make(**options: Any) -> AudioSources:
        made.append(AudioSources([root], **options))
        return made[-1]

    yield make
    for sources in made:
        sources.close()


@pytest.fixture
def sources(make_sources: MakeSources) -> AudioSources:
    """Loopback allowed, limit exactly the payload size."""
    return make_sources(allow_private_addresses=True, max_download_bytes=len(PAYLOAD))


def _fetch(sources: AudioSources, url: str) -> None:
    """Open and close a fetch: all it takes for a refused source to raise."""
    with sources.fetch(url):
        pass


class _Recorder:
    """A MockTransport handler: answers from a table by URL, remembers what was asked."""

    def __init__(self, responses: dict[str, httpx.Response]) -> None:
        self.responses = responses
        self.requested: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requested.append(str(request.url))
        return self.responses[str(request.url)]


class _FakeNetworkStream:
    def __init__(self, server_addr: tuple[Any, ...] | None) -> None:
        self.server_addr = server_addr

    def get_extra_info(self, info: str) -> Any:
        return self.server_addr if info == "server_addr" else None


class TestAudioSourcesLocal:
    def test_file_inside_root(self, sources: AudioSources, root: Path) -> None:
        audio = root / "meeting.wav"
        audio.write_bytes(PAYLOAD)

        sources.check(str(audio))
        with sources.fetch(str(audio)) as path:
            assert path == audio.resolve()

        assert audio.exists()  # a local source is the caller's file, never deleted

    def test_file_uri(self, sources: AudioSources, root: Path) -> None:
        audio = root / "weekly sync.vtt"
        audio.write_bytes(PAYLOAD)

        with sources.fetch(audio.as_uri()) as path:
            assert path == audio.resolve()

    def test_file_uri_naming_this_machine(self, sources: AudioSources, root: Path) -> None:
        audio = root / "meeting.wav"
        audio.write_bytes(PAYLOAD)

        with sources.fetch(f"file://LocalHost{audio}") as path:
            assert path == audio.resolve()

    @pytest.mark.parametrize("host", ["fileserver", "127.0.0.1", "user@localhost", "[::1]"])
    def test_file_uri_naming_another_host_refused(
        self, sources: AudioSources, root: Path, host: str
    ) -> None:
        # The path exists here; the URI names it on another machine, so it is not this file.
        audio = root / "meeting.wav"
        audio.write_bytes(PAYLOAD)

        with pytest.raises(AudioSourceError, match="may only name this machine"):
            sources.check(f"file://{host}{audio}")
        with pytest.raises(AudioSourceError, match="may only name this machine"):
            _fetch(sources, f"file://{host}{audio}")

    def test_home_relative_path(
        self, sources: AudioSources, root: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HOME", str(root))
        (root / "meeting.wav").write_bytes(PAYLOAD)

        sources.check("~/meeting.wav")

    def test_missing_file(self, sources: AudioSources, root: Path) -> None:
        with pytest.raises(SourceNotFoundError, match="no such file"):
            sources.check(str(root / "absent.wav"))

    def test_dotdot_escape_refused(self, sources: AudioSources, root: Path) -> None:
        (root.parent / "secret.wav").write_bytes(PAYLOAD)

        with pytest.raises(SourceOutsideRootsError):
            sources.check(f"{root}/../secret.wav")

    def test_symlink_pointing_outside_refused(self, sources: AudioSources, root: Path) -> None:
        outside = root.parent / "secret.wav"
        outside.write_bytes(PAYLOAD)
        (root / "innocent.wav").symlink_to(outside)

        with pytest.raises(SourceOutsideRootsError):
            _fetch(sources, str(root / "innocent.wav"))

    def test_other_schemes_refused_without_leaking_credentials(self, sources: AudioSources) -> None:
        with pytest.raises(AudioSourceError) as raised:
            sources.check("ftp://user:s3cret@files.example.com/meeting.wav?token=t0ken")

        assert type(raised.value) is AudioSourceError
        assert str(raised.value).startswith("ftp://files.example.com/meeting.wav: unsupported")
        assert "s3cret" not in str(raised.value)
        assert "t0ken" not in str(raised.value)


class TestAudioSourcesDownload:
    def test_download_kept_until_block_exits(
        self, sources: AudioSources, server: str, downloads: Path
    ) -> None:
        with sources.fetch(f"{server}/audio/meeting.wav?token=t0ken") as path:
            assert path.read_bytes() == PAYLOAD
            assert path.suffix == ".wav"
            assert path.parent == downloads

        assert not path.exists()

    def test_download_deleted_after_exception_in_block(
        self, sources: AudioSources, server: str, downloads: Path
    ) -> None:
        def read_then_fail() -> None:
            with sources.fetch(f"{server}/audio/meeting.vtt") as path:
                assert path.suffix == ".vtt"
                raise RuntimeError("reader failed")

        with pytest.raises(RuntimeError, match="reader failed"):
            read_then_fail()

        assert list(downloads.iterdir()) == []

    def test_path_without_suffix_gives_none(self, sources: AudioSources, server: str) -> None:
        with sources.fetch(f"{server}/audio/download") as path:
            assert path.suffix == ""

    @pytest.mark.parametrize(
        ("path", "suffix"),
        [
            ("/redirect?to=/audio/meeting.wav", ".wav"),  # opaque API path -> named file
            ("/hops/1/meeting.vtt", ".vtt"),  # named file -> named file
        ],
    )
    def test_redirect_followed(
        self, sources: AudioSources, server: str, path: str, suffix: str
    ) -> None:
        with sources.fetch(f"{server}{path}") as downloaded:
            assert downloaded.read_bytes() == PAYLOAD
            assert downloaded.suffix == suffix

    def test_five_redirects_followed(self, sources: AudioSources, server: str) -> None:
        with sources.fetch(f"{server}/hops/5/meeting.wav") as path:
            assert path.read_bytes() == PAYLOAD

    def test_sixth_redirect_refused(
        self, sources: AudioSources, server: str, downloads: Path
    ) -> None:
        with pytest.raises(AudioSourceError, match="more than 5 redirects"):
            _fetch(sources, f"{server}/hops/6/meeting.wav")

        assert list(downloads.iterdir()) == []

    @pytest.mark.parametrize("status", [404, 410])
    def test_not_found(self, sources: AudioSources, server: str, status: int) -> None:
        with pytest.raises(SourceNotFoundError):
            _fetch(sources, f"{server}/status/{status}")

    def test_other_client_error_is_permanent(self, sources: AudioSources, server: str) -> None:
        with pytest.raises(AudioSourceError) as raised:
            _fetch(sources, f"{server}/status/403")

        assert type(raised.value) is AudioSourceError
        assert str(raised.value) == "http://127.0.0.1/status/403: HTTP 403 Forbidden"

    @pytest.mark.parametrize("status", [500, 503, 429])
    def test_server_error_is_transient(
        self, sources: AudioSources, server: str, status: int
    ) -> None:
        with pytest.raises(SourceUnavailableError) as raised:
            _fetch(sources, f"{server}/status/{status}")

        assert isinstance(raised.value, TransientIntegrationError)

    def test_error_message_hides_credentials_and_query(
        self, sources: AudioSources, server: str
    ) -> None:
        url = server.replace("http://", "http://user:s3cret@") + "/missing.wav?token=t0ken"

        with pytest.raises(SourceNotFoundError) as raised:
            _fetch(sources, url)

        assert str(raised.value) == "http://127.0.0.1/missing.wav: HTTP 404 Not Found"

    def test_redirect_without_location_refused(self, sources: AudioSources, server: str) -> None:
        with pytest.raises(AudioSourceError, match="without a Location"):
            _fetch(sources, f"{server}/status/302")

    def test_undecodable_body_is_permanent_and_cleans_up(
        self, sources: AudioSources, server: str, downloads: Path
    ) -> None:
        with pytest.raises(AudioSourceError, match="could not be decoded") as raised:
            _fetch(sources, f"{server}/badgzip/meeting.wav")

        assert not isinstance(raised.value, TransientIntegrationError)
        assert list(downloads.iterdir()) == []

    def test_content_length_over_limit(
        self, make_sources: MakeSources, server: str, downloads: Path
    ) -> None:
        sources = make_sources(allow_private_addresses=True, max_download_bytes=len(PAYLOAD) - 1)

        with pytest.raises(SourceTooLargeError, match=f"{len(PAYLOAD)} bytes, over"):
            _fetch(sources, f"{server}/audio/meeting.wav")

        assert list(downloads.iterdir()) == []

    def test_chunked_body_within_limit(self, sources: AudioSources, server: str) -> None:
        with sources.fetch(f"{server}/chunked/meeting.wav") as path:
            assert path.read_bytes() == PAYLOAD

    def test_chunked_body_over_limit_stops_and_cleans_up(
        self, make_sources: MakeSources, server: str, downloads: Path
    ) -> None:
        sources = make_sources(allow_private_addresses=True, max_download_bytes=len(PAYLOAD) - 1)

        with pytest.raises(SourceTooLargeError):
            _fetch(sources, f"{server}/chunked/meeting.wav")

        assert list(downloads.iterdir()) == []

    def test_body_cut_short_is_transient_and_cleans_up(
        self, sources: AudioSources, server: str, downloads: Path
    ) -> None:
        with pytest.raises(SourceUnavailableError):
            _fetch(sources, f"{server}/truncated/meeting.wav")

        assert list(downloads.iterdir()) == []

    def test_connection_refused_is_transient(self, sources: AudioSources) -> None:
        with socket.socket() as probe:  # a port nobody listens on once it is closed
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]

        with pytest.raises(SourceUnavailableError, match="ConnectError"):
            _fetch(sources, f"http://127.0.0.1:{port}/meeting.wav")

    def test_timeout_is_transient(self, make_sources: MakeSources, downloads: Path) -> None:
        sources = make_sources(allow_private_addresses=True, timeout=0.1)
        # The kernel completes the connection in the listen backlog; nothing ever answers.
        with socket.create_server(("127.0.0.1", 0)) as silent:
            port = silent.getsockname()[1]
            with pytest.raises(SourceUnavailableError, match="ReadTimeout"):
                _fetch(sources, f"http://127.0.0.1:{port}/meeting.wav")

        assert list(downloads.iterdir()) == []


class TestAudioSourcesAddresses:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/meeting.wav",
            "http://localhost/meeting.wav",
            "http://[::1]/meeting.wav",
            "http://10.0.0.5/meeting.wav",
            "http://192.168.1.10/meeting.wav",
            "http://100.64.0.1/meeting.wav",  # carrier-grade NAT, shared address space
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0/meeting.wav",
            "http://224.0.0.1/meeting.wav",
            "http://240.0.0.1/meeting.wav",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::]/meeting.wav",
            "http://[::127.0.0.1]/meeting.wav",  # IPv4-compatible, deprecated
            "http://[fe80::1]/meeting.wav",
            "http://[fd00::1]/meeting.wav",
            "http://[ff02::1]/meeting.wav",
            "http://[2002:7f00:1::]/meeting.wav",  # 6to4 around 127.0.0.1
            "http://[64:ff9b::a9fe:a9fe]/meeting.wav",  # NAT64 around 169.254.169.254
        ],
    )
    def test_non_public_address_refused_before_connecting(
        self, make_sources: MakeSources, url: str
    ) -> None:
        recorder = _Recorder({})
        sources = make_sources(transport=httpx.MockTransport(recorder))

        with pytest.raises(AddressNotAllowedError):
            sources.check(url)
        with pytest.raises(AddressNotAllowedError):
            _fetch(sources, url)

        assert recorder.requested == []

    @pytest.mark.parametrize(
        "url",
        [
            f"https://{PUBLIC_IP}/meeting.wav",
            f"http://[::ffff:{PUBLIC_IP}]/meeting.wav",
            "http://[2606:4700::1111]/meeting.wav",
        ],
    )
    def test_public_address_allowed(self, make_sources: MakeSources, url: str) -> None:
        make_sources().check(url)

    def test_message_hides_credentials_and_query(self, make_sources: MakeSources) -> None:
        with pytest.raises(AddressNotAllowedError) as raised:
            make_sources().check("http://user:s3cret@127.0.0.1/meeting.wav?token=t0ken")

        assert str(raised.value) == (
            "http://127.0.0.1/meeting.wav: 127.0.0.1 is not a public address"
        )

    def test_resolved_address_named_in_message(self, make_sources: MakeSources) -> None:
        with pytest.raises(AddressNotAllowedError, match="localhost resolves to"):
            make_sources().check("http://localhost/meeting.wav")

    @pytest.mark.parametrize("url", ["http:///meeting.wav", "https://", "http://[::1/x"])
    def test_url_without_valid_host_refused(self, make_sources: MakeSources, url: str) -> None:
        with pytest.raises(AudioSourceError):
            make_sources(allow_private_addresses=True).check(url)

    def test_unresolvable_host_is_transient(
        self, make_sources: MakeSources, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_answer(host: str) -> list[Any]:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

        # The check's own lookup is the seam: a real resolver's failure modes vary by machine.
        monkeypatch.setattr(audio_sources, "_resolve", no_answer)

        with pytest.raises(SourceUnavailableError, match="could not be resolved"):
            make_sources().check("https://recordings.example.com/meeting.wav")

    def test_allowed_private_addresses_skip_the_checks(self, sources: AudioSources) -> None:
        sources.check("http://10.0.0.5/meeting.wav")

    def test_download_without_network_stream_relies_on_precheck(
        self, make_sources: MakeSources
    ) -> None:
        url = f"http://{PUBLIC_IP}/meeting.wav"
        recorder = _Recorder({url: httpx.Response(200, content=PAYLOAD)})
        sources = make_sources(transport=httpx.MockTransport(recorder))

        with sources.fetch(url) as path:
            assert path.read_bytes() == PAYLOAD

    def test_redirect_to_private_address_refused(self, make_sources: MakeSources) -> None:
        # A public first hop needs a server this test cannot run, so httpx.MockTransport
        # (the constructor's transport argument) plays it; the redirect is checked as usual.
        url = f"http://{PUBLIC_IP}/meeting.wav"
        metadata = "http://169.254.169.254/latest/meta-data/iam"
        recorder = _Recorder({url: httpx.Response(302, headers={"Location": metadata})})
        sources = make_sources(transport=httpx.MockTransport(recorder))

        with pytest.raises(AddressNotAllowedError, match=r"169\.254\.169\.254"):
            _fetch(sources, url)

        assert recorder.requested == [url]

    def test_redirect_to_file_uri_refused(self, make_sources: MakeSources) -> None:
        url = f"http://{PUBLIC_IP}/meeting.wav"
        recorder = _Recorder({url: httpx.Response(302, headers={"Location": "file:///etc/passwd"})})
        sources = make_sources(transport=httpx.MockTransport(recorder))

        with pytest.raises(AudioSourceError, match="unsupported source"):
            _fetch(sources, url)

        assert recorder.requested == [url]

    def test_dns_rebinding_is_refused_before_connecting(
        self,
        make_sources: MakeSources,
        listener: _Listener,
        downloads: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Rebinding: the name answers a public address to the intake check and to the
        # download's own check, and loopback when it is looked up again to connect. The
        # lookup is the seam (no cleaner one for "DNS answers differently the next time");
        # the connection is a real socket, and the listener counts what reached it.
        answers = iter([[ipaddress.ip_address(PUBLIC_IP)]] * 2)
        monkeypatch.setattr(
            audio_sources, "_resolve", lambda host: next(answers, None) or real_resolve(host)
        )
        sources = make_sources()
        url = f"http://localhost:{listener.port}/meeting.wav"

        sources.check(url)  # fooled, as DNS would fool it
        refused = r"^http://localhost/meeting\.wav: localhost resolves to (127\.0\.0\.1|::1),"
        with pytest.raises(AddressNotAllowedError, match=refused):
            _fetch(sources, url)

        assert listener.connections() == 0
        assert list(downloads.iterdir()) == []

    def test_a_name_for_loopback_downloads_when_private_sources_are_allowed(
        self, sources: AudioSources, server: str
    ) -> None:
        port = urlsplit(server).port

        with sources.fetch(f"http://localhost:{port}/audio/meeting.wav") as path:
            assert path.read_bytes() == PAYLOAD
