"""A database that goes down on cue: a TCP proxy in front of the test PostgreSQL, on a loopback
port. ``down()`` closes every connection and stops accepting new ones, as a PostgreSQL server
that was stopped; ``down_after(n)`` does it by itself once the server has said ReadyForQuery
``n`` times over all connections (1 per connection opened, then 1 per query), so a command dies
at a chosen point of its work.

The URL it gives disables SSL and GSS encryption negotiation, so the stream is plain protocol
messages (type byte, then a length that counts itself)."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict

from prompt_ledger.settings import libpq_url

READY_FOR_QUERY = ord("Z")


class PgProxy:
    def __init__(self, server_url: str) -> None:
        """``server_url``: a database on TCP or on a Unix socket (``?host=/dir``, as the
        embedded PostgreSQL gives)."""
        info = conninfo_to_dict(libpq_url(server_url))
        host, port = str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432)
        self._upstream = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        user = info.get("user") or "postgres"
        password = f":{quote(str(info['password']))}" if info.get("password") else ""
        self.url = (
            f"postgresql://{quote(str(user))}{password}@127.0.0.1:"
            f"{self._listener.getsockname()[1]}/{info.get('dbname') or 'postgres'}"
            "?sslmode=disable&gssencmode=disable"
        )
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._ready = 0
        self._limit: int | None = None
        self.is_down = False
        self.connections = 0
        """Connections accepted so far."""
        threading.Thread(target=self._accept, daemon=True, name="pg-proxy").start()

    def with_database(self, name: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def down_after(self, ready_for_query: int) -> None:
        """Go down once the server has answered ReadyForQuery this many more times."""
        with self._lock:
            self._limit = self._ready + ready_for_query

    def down(self) -> None:
        with self._lock:
            self.is_down = True
            sockets, self._sockets = self._sockets, []
        for sock in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def __enter__(self) -> PgProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    # --- the pumps -------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self.is_down:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = _connect(self._upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self.is_down:
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
                self.connections += 1
            threading.Thread(target=self._to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=self._to_client, args=(server, client), daemon=True).start()

    def _to_server(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                server.sendall(data)
        except OSError:
            pass

    def _to_client(self, server: socket.socket, client: socket.socket) -> None:
        pending = b""
        try:
            while data := server.recv(65536):
                pending += data
                forward, pending, ready = _whole_messages(pending)
                client.sendall(forward)
                if ready and self._count(ready):
                    self.down()
                    return
        except OSError:
            pass

    def _count(self, ready: int) -> bool:
        """Count ReadyForQuery messages; True when the proxy must go down."""
        with self._lock:
            self._ready += ready
            return self._limit is not None and self._ready >= self._limit


def _whole_messages(buffer: bytes) -> tuple[bytes, bytes, int]:
    """The complete messages at the start of ``buffer``, the rest, and how many of the
    complete ones are ReadyForQuery."""
    offset, ready = 0, 0
    while len(buffer) - offset >= 5:
        length = int.from_bytes(buffer[offset + 1 : offset + 5], "big")
        if len(buffer) - offset < 1 + length:
            break
        ready += buffer[offset] == READY_FOR_QUERY
        offset += 1 + length
    return buffer[:offset], buffer[offset:], ready


def _connect(upstream: str | tuple[str, int]) -> socket.socket:
    if isinstance(upstream, str):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(upstream)
        return sock
    return socket.create_connection(upstream)
