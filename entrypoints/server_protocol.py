"""`LimitedHttpToolsProtocol`: uvicorn's httptools protocol, held to `entrypoints.server`'s
limits. What a refused client receives is a whole problem response, then the close."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from entrypoints.server import Refusal, configured_limits, cut_report, refusal_response

REFUSED_HEAD_SECONDS = 1.0  # a connection over the cap gets this long to send its head
LINGER_SECONDS = 1.0  # a refusal is left this long to reach the client before the close
GOING_AWAY = 1001  # RFC 6455: the server is going away (a shutdown)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, bounded: the request head in bytes, in headers and in
    time; the body in rate; the process in connections (the longest-idle one gives way to a
    newcomer, else the newcomer gets 503). Everything else is uvicorn's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = configured_limits()
        self._in_head, self._head_bytes, self._head_received, self._headers = False, 0, 0, 0
        self._began_now = False  # a request began in the data being parsed
        self._waiting_since: float | None = None  # idle or sending a head since then
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_deadline = 0.0
        self._over_cap = self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw = transport
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]
        _no_delay(transport)
        self._waiting_since = self.loop.time()
        if len(self.connections) > self.limits.max_connections and not self._evict_longest_idle():
            self._over_cap = True
            cut_report.note(self.loop, f"over the cap of {self.limits.max_connections} (503)")
        self._arm_head_timer(REFUSED_HEAD_SECONDS if self._over_cap else self.limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: what the client still sends is dropped
        self._unset_keepalive_if_required()
        self._began_now = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, Refusal):
                self._refuse(exc.__context__)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head and not self._began_now:  # all of it head, maybe one endless header
            self._head_received += len(data)
            if self._head_received > self.limits.max_header_bytes:
                self._refuse(self._head_too_large())

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown; a body still arriving is cut before its deadline, so
        the client hears 503 rather than nothing, and the process exits in time."""
        super().shutdown()
        grace = self.config.timeout_graceful_shutdown
        if self._body_timer is not None and grace is not None:
            self._cancel_body_timer()
            unfinished = Refusal(503, "body unfinished at shutdown (503)", "shutting down")
            at = max(0.0, grace - LINGER_SECONDS - 0.5)
            self._body_timer = self.loop.call_later(at, self._refuse, unfinished)

    def handle_websocket_upgrade(self) -> None:
        self._cancel_timers()  # the WebSocket protocol takes the connection over
        super().handle_websocket_upgrade()

    # Parser callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._head_received, self._headers = True, 0, 0, 0
        self._began_now = True  # the parsed part of this data is counted by the callbacks
        if self._head_timer is None:
            self._arm_head_timer(self.limits.head_timeout)

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self.limits.max_header_bytes:
            raise Refusal(414, "request target too long (414)", "the request target is too long")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        self._headers += 1
        if (
            self._head_bytes > self.limits.max_header_bytes
            or self._headers > self.limits.max_headers
        ):
            raise self._head_too_large()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._waiting_since = False, None
        self._cancel_timers()
        if self._over_cap:
            raise Refusal(503, "", "the server holds as many connections as it may")
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:  # a request to serve
            self._body_deadline = self.loop.time() + self.limits.body_timeout
            self._body_timer = self.loop.call_at(self._body_deadline, self._check_body)

    def on_body(self, body: bytes) -> None:
        credit = self._body_deadline + len(body) / self.limits.body_min_rate
        self._body_deadline = min(credit, self.loop.time() + self.limits.body_timeout)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._waiting_since = self.loop.time()

    # Timers and refusals -------------------------------------------------------------------

    def _arm_head_timer(self, seconds: float) -> None:
        self._head_timer = self.loop.call_later(seconds, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer(self.limits.head_timeout)  # pipelined behind a response
        elif self._over_cap:
            self._refuse(Refusal(503, "", "the server holds as many connections as it may"))
        else:
            self._give_up_waiting(f"request head not sent within {self.limits.head_timeout:g} s")

    def _check_body(self) -> None:
        self._body_timer, now = None, self.loop.time()
        if self.flow.read_paused:  # the app is behind, not the client
            self._body_deadline = max(self._body_deadline, now + self.limits.body_timeout)
        if now < self._body_deadline:
            self._body_timer = self.loop.call_at(self._body_deadline, self._check_body)
            return
        reason = f"request body slower than {self.limits.body_min_rate} B/s"
        if self.cycle is not None and self.cycle.response_complete:  # answered without it
            cut_report.note(self.loop, reason)
            self.transport.close()
        else:
            self._refuse(Refusal(408, f"{reason} (408)", "the body came too slowly"))

    def _give_up_waiting(self, reason: str) -> None:
        """Cut a connection that is idle or sending a head: 408 if a head began, else close."""
        if self._in_head and (self._head_received or self._head_bytes):
            self._refuse(Refusal(408, f"{reason} (408)", "the request head came too slowly"))
        else:
            cut_report.note(self.loop, reason)
            self._cancel_timers()
            self._waiting_since = None
            self.transport.close()

    def _evict_longest_idle(self) -> bool:
        idle = [
            other
            for other in self.connections
            if isinstance(other, LimitedHttpToolsProtocol)
            and other is not self
            and other._waiting_since is not None
            and not other._refused
        ]
        if not idle:
            return False
        min(idle, key=lambda other: other._waiting_since or 0.0)._give_up_waiting(
            "idle or slow at the connection cap (evicted)"
        )
        return True

    def _head_too_large(self) -> Refusal:
        most = f"{self.limits.max_header_bytes} bytes or {self.limits.max_headers} headers"
        return Refusal(431, f"request head over {most} (431)", f"the request head is over {most}")

    def _refuse(self, refusal: Refusal) -> None:
        """Answer with a problem (unless a response began), then close once it had time to
        leave: closing at once over unread input would reset the connection and lose it."""
        self._refused, self._waiting_since = True, None
        self._cancel_timers()
        if refusal.reason:
            cut_report.note(self.loop, refusal.reason)
        cycle = self.cycle if self.cycle is not None and not self.cycle.response_complete else None
        if cycle is not None:
            cycle.disconnected = True  # the app sees a disconnect and writes nothing more
            cycle.message_event.set()
        if cycle is None or not cycle.response_started:
            self.transport.write(refusal_response(refusal, self.server_state.default_headers))
        self._linger()

    def close_transport(self) -> None:
        """uvicorn's close: at once, or lingering while the request's body still arrives."""
        if self._refused:
            return  # lingering already: it closes by itself
        if self.cycle is not None and self.cycle.more_body:
            self._linger()
        else:
            self._raw.close()

    def _linger(self) -> None:
        """Half-close, drop whatever still arrives, and close after LINGER_SECONDS: closing
        over unread input would reset the connection and lose the answer just written."""
        self._refused = True
        self._cancel_timers()
        if self._raw.can_write_eof():
            self._raw.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self._raw.close)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_body_timer()
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None


class _LingeringTransport:
    """The connection's transport for uvicorn, but for `close`: an answer given before the
    request's body has all arrived (a 413 mid-upload, a 401 before the body) lingers first
    (`LimitedHttpToolsProtocol._linger`), so the client reads it instead of a reset."""

    def __init__(self, transport: asyncio.Transport, protocol: LimitedHttpToolsProtocol) -> None:
        self._transport, self._protocol = transport, protocol

    def close(self) -> None:
        self._protocol.close_transport()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _no_delay(transport: asyncio.Transport) -> None:
    """Send small responses at once. The stdlib loop sets TCP_NODELAY only on sockets it
    recognises as TCP; a listening socket handed to `--workers` processes is not, and every
    keep-alive answer then waited on the client's delayed ACK (about 40 ms)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GoingAwayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, except that a shutdown closes an open socket with 1001
    (going away) instead of 1012 (service restart): uvicorn closes every connection before
    the app's lifespan ends, so the app cannot choose the code itself."""

    def shutdown(self) -> None:
        if self.close_sent or not self.handshake_complete:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY, "server shutting down")
        self.close_sent = True
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()
