"""A loopback TCP forwarder a test can cut and restore: a real outage of a shared server, seen
only by the processes pointed at the forwarder, while everyone else keeps using the server.

While cut, open connections are shut down (the client sees the server hang up) and new ones are
accepted and closed at once (the client cannot get a session), as when PostgreSQL is stopped.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class LoopbackProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target_port`; a thread per direction and connection."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False
        self.refused = 0  # connections turned away while cut
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def url_for(self, database_url: str) -> str:
        """`database_url` (a loopback URL) with its port pointed at this proxy."""
        parts = urlsplit(database_url)
        credentials, _, _ = parts.netloc.rpartition("@")
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for sock in self._open:
                _hang_up(sock)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                cut = self._cut
            if cut:
                self.refused += 1
                _hang_up(client)
                continue
            try:
                server = socket.create_connection(self._target, timeout=10)
            except OSError:
                _hang_up(client)
                continue
            server.settimeout(None)
            with self._lock:
                if self._cut:
                    _hang_up(client)
                    _hang_up(server)
                    continue
                self._open.update((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _hang_up(source)
            _hang_up(sink)


def _hang_up(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
