"""Requests that reach an API instance all at once, as a load balancer in front of many clients
delivers them.

A client that pays for each request in turn (httpx costs about what the server does) can never
get ahead of the server, so the server never holds many requests at once. A `Burst` keeps many
keep-alive connections open, writes one request on each in a single go, and only then reads
the answers (parsed by h11, the HTTP/1.1 parser under uvicorn and httpcore).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import h11


@dataclass
class Answer:
    """One response of a burst (`status` None: none came, `error` says why)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""
    retry: bool = False  # lost on a reused connection before the server read it


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.http = h11.Connection(h11.CLIENT)
        self.broken = self.reused = self.heard = False

    @property
    def usable(self) -> bool:
        return not self.broken and not self.reader.at_eof()  # (a server closes idle ones)

    def write(self, host: str, path: str, headers: Mapping[str, str]) -> None:
        request = h11.Request(method="GET", target=path, headers=[("Host", host), *headers.items()])
        self.writer.write(self.http.send(request) + self.http.send(h11.EndOfMessage()))
        self.heard = False

    async def read(self) -> Answer:
        answer, body = Answer(), bytearray()
        try:
            while True:
                event = self.http.next_event()
                if event is h11.NEED_DATA:
                    data = await self.reader.read(65536)
                    self.heard = self.heard or bool(data)
                    self.http.receive_data(data)
                elif isinstance(event, h11.Response):
                    answer.status = event.status_code
                    answer.headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    self.http.start_next_cycle()
                    self.reused = True
                    answer.body = bytes(body)
                    return answer
                else:  # ConnectionClosed, or PAUSED without an end
                    raise ConnectionError(f"connection ended at {event!r}")
        except (OSError, h11.ProtocolError) as exc:
            self.broken = True
            return Answer(error=repr(exc))

    def close(self) -> None:
        self.writer.close()


class Burst:
    """Keep-alive connections to one server, on which `send` fires GETs all at once."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._connections: list[_Connection] = []

    async def send(self, requests: list[tuple[str, Mapping[str, str]]]) -> list[Answer]:
        """GET each (path, headers) on a connection of its own; the answers in that order.

        A request on a kept-alive connection that the server closed before reading it (its
        idle timeout struck just then) is sent again, once, on a new connection."""
        answers = await self._send_once(requests)
        again = [i for i, answer in enumerate(answers) if answer.error and answer.retry]
        if again:
            retried = await self._send_once([requests[i] for i in again])
            for i, answer in zip(again, retried, strict=True):
                answers[i] = answer
        return answers

    async def _send_once(self, requests: list[tuple[str, Mapping[str, str]]]) -> list[Answer]:
        connections = await self._open(len(requests))
        for connection, (path, headers) in zip(connections, requests, strict=False):
            connection.write(f"{self.host}:{self.port}", path, headers)  # no await in between
        try:
            reads = [connection.read() for connection in connections]
            answers = await asyncio.wait_for(asyncio.gather(*reads), self.timeout)
        except TimeoutError:
            self.close()  # the late answers would be read as the next burst's
            return [Answer(error=f"no answer within {self.timeout} s") for _ in requests]
        for connection, answer in zip(connections, answers, strict=True):
            answer.retry = connection.broken and connection.reused and not connection.heard
        return answers + [Answer(error="could not connect") for _ in requests[len(answers) :]]

    async def _open(self, n: int) -> list[_Connection]:
        kept = [c for c in self._connections if c.usable]
        for connection in self._connections:
            if not connection.usable:
                connection.close()
        self._connections = kept
        while len(self._connections) < n:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                break
            self._connections.append(_Connection(reader, writer))
        return self._connections[:n]

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections = []
