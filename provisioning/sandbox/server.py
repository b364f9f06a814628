"""Serve a `StandinCluster` over real HTTP (optionally TLS) on loopback, with a hook for fault injection.

Every response carries `X-Elastic-Product: Elasticsearch`, without which the official client refuses a
2xx answer; the stand-in labels itself as not Elasticsearch in `GET /` and in the sandbox's output.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

from provisioning.sandbox.cluster import Request, Response


class RequestHandler(Protocol):
    def handle(self, request: Request) -> Response: ...


# A hook sees each request first: None lets the cluster answer, a Response short-circuits it
# (e.g. 429/503), "reset" drops the connection without answering.
Hook = Callable[[Request], "Response | Literal['reset'] | None"]


@dataclass
class RequestLog:
    """What the server received, for counting requests per (method, path) the way tests need."""

    entries: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Request) -> None:
        with self.lock:
            self.entries.append((request.method, request.path, dict(request.query)))

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


# How long a connection may take to finish its TLS handshake before the stand-in closes it.
HANDSHAKE_TIMEOUT = 10.0


class _Server(ThreadingHTTPServer):
    # Elasticsearch's HTTP server (Netty4HttpServerTransport) listens with the OS's backlog (Netty's
    # NetUtil.SOMAXCONN); socketserver's default of 5 drops the SYNs of a sixth simultaneous connection,
    # which then waits a 1 s retransmission: an apply at --concurrency 16 would see only some writes in flight.
    request_queue_size = socket.SOMAXCONN
    # Set by StandinServer: TLS, and how many of the next connections to drop during their handshake.
    tls: ssl.SSLContext | None = None
    drop_handshakes = 0
    drop_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, object]:
        """Accept only: the TLS handshake runs in the connection's own thread (as Netty runs it on an event
        loop), so one slow or failing handshake does not hold up the others. Wrapping the listening socket
        would handshake every connection in turn in this accepting thread. A connection to drop stays a plain
        socket, which its thread recognises."""
        connection, address = self.socket.accept()
        if self.tls is None or self.take_drop():
            return connection, address
        return self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address

    def take_drop(self) -> bool:
        with self.drop_lock:
            if self.drop_handshakes <= 0:
                return False
            self.drop_handshakes -= 1
            return True


class StandinServer:
    """A running stand-in on 127.0.0.1; use as a context manager or call `close()`."""

    def __init__(
        self,
        cluster: RequestHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        hook: Hook | None = None,
        product_header: bool = True,
    ) -> None:
        # Any object with handle(Request) -> Response: the Elasticsearch stand-in, or a test's Kibana double.
        self.cluster = cluster
        self.product_header = product_header
        self.log = RequestLog()
        self.hook = hook
        handler = _handler_class(self)
        self._server = _Server((host, port), handler)
        self._server.daemon_threads = True
        self._server.tls = ssl_context
        self._server.drop_lock = threading.Lock()
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="standin", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host if isinstance(host, str) else host.decode()}:{port}"

    def drop_next_handshakes(self, count: int) -> None:
        """Fault injection: close the next `count` TLS connections after their ClientHello, unanswered."""
        with self._server.drop_lock:
            self._server.drop_handshakes = count

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StandinServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _handler_class(owner: StandinServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, each response waits for a delayed ACK.
        disable_nagle_algorithm = True
        server_version = "managed-llm-standin"

        def log_message(self, format: str, *args: object) -> None:
            """Silence the default per-request stderr line."""

        def handle(self) -> None:
            if owner.scheme == "https" and not isinstance(self.connection, ssl.SSLSocket):
                # A connection chosen to drop: as a proxy dropping it mid-handshake, read the ClientHello and
                # close (the client sees EOF where it expected the ServerHello).
                with contextlib.suppress(OSError):
                    self.connection.settimeout(HANDSHAKE_TIMEOUT)
                    self.connection.recv(65536)
                return
            if isinstance(self.connection, ssl.SSLSocket):
                try:
                    self.connection.settimeout(HANDSHAKE_TIMEOUT)
                    self.connection.do_handshake()
                    self.connection.settimeout(None)
                except OSError:  # ssl.SSLError included: a client that gave up or does not trust us
                    return
            super().handle()

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=split.path,
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            owner.log.add(request)
            outcome = owner.hook(request) if owner.hook is not None else None
            if outcome == "reset":
                self._reset()
                return
            response = outcome if isinstance(outcome, Response) else owner.cluster.handle(request)
            self._write(request, response)

        def _write(self, request: Request, response: Response) -> None:
            accept = request.headers.get("accept", "")
            content_type = (
                "application/vnd.elasticsearch+json;compatible-with=9"
                if "compatible-with" in accept
                else "application/json"
            )
            if response.raw is not None:
                payload, content_type = response.raw, response.content_type or "application/octet-stream"
            else:
                payload = b"" if response.body is None else json.dumps(response.body).encode()
            self.send_response(response.status)
            if owner.product_header:
                self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if request.method != "HEAD":
                self.wfile.write(payload)

        def _reset(self) -> None:
            # SO_LINGER with a zero timeout makes close() send RST: a real "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

    return Handler
