"""Two small web pages on loopback posing as the Spark's "DGX Dashboard" and "JupyterLab".

They exist so the demo device has something to tunnel to: each answers any GET with a short
HTML page saying what it stands in for. Standard library asyncio only; requests are read with a
size cap and a deadline, because nothing from the network is trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging

log = logging.getLogger(__name__)

_MAX_REQUEST = 16 * 1024  # bytes of request line plus headers
_READ_DEADLINE = 10.0  # seconds a client gets to send its request


class DemoWebService:
    """One tiny HTTP/1.1 server: a title, a sentence, and optionally a redirect of ``/``.

    Args:
        title: Page title and heading ("DGX Dashboard").
        description: One sentence under the heading.
        redirect_root_to: Answer ``GET /`` with a 302 to this path (JupyterLab sends ``/`` to
            ``/lab``), or ``None`` to serve the page everywhere.

    Attributes:
        port: The port it listens on (after :meth:`start`).
        requests: How many requests it answered.
    """

    def __init__(self, title: str, description: str, redirect_root_to: str | None = None) -> None:
        self.title = title
        self.description = description
        self.redirect_root_to = redirect_root_to
        self.port = 0
        self.requests = 0
        self._server: asyncio.base_events.Server | None = None
        self._page = (
            "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)} (spark-tui demo)</title></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n<p>{html.escape(description)}</p>\n"
            "<p>Served by the spark-tui demo device on this computer's loopback, reached through "
            "an SSH tunnel.</p></body></html>\n"
        ).encode()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host``:``port`` (0 = a free port) and return the port.

        Raises:
            OSError: The address cannot be bound.
        """
        self._server = await asyncio.start_server(self._serve, host, port, limit=_MAX_REQUEST)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._server is not None:
            self._server.close()
            if hasattr(self._server, "close_clients"):
                self._server.close_clients()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_DEADLINE)
            status, headers, body, send_body = self._answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError):
            status, headers, body, send_body = "400 Bad Request", {}, b"bad request\n", True
        except ConnectionError:
            writer.close()
            return
        self.requests += 1
        lines = [f"HTTP/1.1 {status}", "Content-Type: text/html; charset=utf-8", "Connection: close",
                 f"Content-Length: {len(body)}", "Server: spark-tui-demo"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body if send_body else b"")
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(payload)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()

    def _answer(self, head: bytes) -> tuple[str, dict[str, str], bytes, bool]:
        """Status, extra headers, body, and whether to send the body (not for HEAD)."""
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise ValueError("not an HTTP request")
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", {"Allow": "GET, HEAD"}, b"only GET and HEAD\n", True
        path = target.split("?", 1)[0]
        if self.redirect_root_to and path == "/":
            return "302 Found", {"Location": self.redirect_root_to}, b"", True
        return "200 OK", {}, self._page, method == "GET"


def dashboard_service() -> DemoWebService:
    """The stand-in for the DGX Dashboard (port 11000 on a real Spark)."""
    return DemoWebService(
        "DGX Dashboard",
        "Stand-in for the DGX Spark's system dashboard (port 11000 on a real Spark).",
    )


def jupyter_service() -> DemoWebService:
    """The stand-in for JupyterLab (port 8888, or 11001+ behind the Dashboard, on a real Spark)."""
    return DemoWebService(
        "JupyterLab",
        "Stand-in for JupyterLab (port 8888 when started by hand on a real Spark).",
        redirect_root_to="/lab",
    )
