"""A TCP relay on a loopback port: a server that is down until the test starts the relay.

Point a client at `relay.address` while it is stopped and the port refuses connections, as
a server that is down does; `start()` and every new connection goes through to `target`.
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from typing import Self


class _Relay(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        with socket.create_connection(self.server.target, timeout=10) as upstream:
            upstream.settimeout(None)
            ends = {self.request: upstream, upstream: self.request}
            while True:
                readable, _, _ = select.select(list(ends), [], [])
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    ends[source].sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True  # a relayed connection never keeps the test process alive
    allow_reuse_address = True

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.target = target
        super().__init__(("127.0.0.1", port), _Relay)


class TcpRelay:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        # A port nothing listens on (the kernel's pick, released at once).
        with socket.create_server(("127.0.0.1", 0)) as probe:
            self.port: int = probe.getsockname()[1]
        self._server: _Server | None = None

    def start(self) -> Self:
        self._server = _Server(self.port, self.target)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
