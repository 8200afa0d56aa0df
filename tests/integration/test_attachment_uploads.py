"""Uploads against a real `portico serve` process, from raw sockets: an upload past the limit is
answered 413 while the client is still sending, an announced oversize body is refused unread,
and an upload cut off or refused leaves no file (temporaries included) and no record.
"""

from __future__ import annotations

import os
import select
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.sqlalchemy.migrate import upgrade
from tests.contract.databases import sqlite_url
from tests.integration.portico_process import PorticoProcess, portico_environment

pytestmark = pytest.mark.slow

MAX_UPLOAD = 1024 * 1024
PASSWORD = "correct horse battery"
BOUNDARY = "portico-raw-upload-3a9c"
STREAMED = 64 * MAX_UPLOAD  # what the chunked client would send, were it let


class Upload:
    """The running server, an item of a signed-in user, and where its bytes and rows go."""

    def __init__(self, server: PorticoProcess, storage: Path, database: Path) -> None:
        self.server, self.storage, self.database = server, storage, database
        with httpx.Client(base_url=server.url) as client:
            email = f"uploader-{uuid.uuid4().hex[:12]}@example.com"
            body = {"email": email, "password": PASSWORD}
            assert client.post("/api/v1/auth/register", json=body).status_code == 201
            form = {"grant_type": "password", "username": email, "password": PASSWORD}
            token = client.post("/api/v1/auth/token", data=form).json()["access_token"]
            self.auth = {"Authorization": f"Bearer {token}"}
            self.item = client.post("/api/v1/items", json={"title": "t"}, headers=self.auth).json()

    def head(self, *framing: str) -> bytes:
        """The request head of an upload to the item, with these framing headers."""
        lines = [
            f"POST /api/v1/items/{self.item['id']}/attachments HTTP/1.1",
            "Host: test",
            f"Authorization: {self.auth['Authorization']}",
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
            *framing,
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def files(self) -> list[str]:
        """Every file under STORAGE_DIR, temporaries included."""
        return [
            os.path.join(directory, name)
            for directory, _, names in os.walk(self.storage)
            for name in names
        ]

    def rows(self) -> int:
        with sqlite3.connect(self.database) as connection:
            (count,) = connection.execute("SELECT count(*) FROM attachments").fetchone()
        return int(count)

    def leaves_nothing(self, within: float = 5.0) -> bool:
        """Whether, within `within` seconds, no file and no row are left."""
        deadline = time.monotonic() + within
        while self.files() or self.rows():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def part_head(filename: str = "big.bin") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    """One chunk of a `Transfer-Encoding: chunked` body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upload]:
    directory = tmp_path_factory.mktemp("uploads")
    database, storage = directory / "portico.db", directory / "storage"
    storage.mkdir()
    upgrade(sqlite_url(database))
    env = portico_environment(
        sqlite_url(database), STORAGE_DIR=str(storage), MAX_UPLOAD_BYTES=str(MAX_UPLOAD)
    )
    server = PorticoProcess("uploads", env, directory)
    server.start()
    try:
        server.wait_ready()
        yield Upload(server, storage, database)
    finally:
        server.stop()


def _answer(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """What the server answers on `sock`, until it closes or `timeout` passes; `(reset)` when
    the connection was reset before anything could be read."""
    sock.settimeout(timeout)
    received = b""
    try:
        while data := sock.recv(65536):
            received += data
    except TimeoutError:
        pass
    except ConnectionResetError:
        return received or b"(reset)"
    return received


# Closing a socket over unread input resets the connection, which can destroy the answer on
# its way: the server must linger (half-close, drop what still arrives for a moment, then
# close) when it ends a connection whose request body is unfinished, as it does for its own
# refusals. uvicorn closes at once after a `Connection: close` answer; the lingering close
# belongs in entrypoints/server_protocol.py (see the attachments HTTP report).
def test_a_chunked_upload_past_the_limit_gets_413_before_the_client_finished(uploads: Upload):
    piece = os.urandom(64 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", uploads.server.port), timeout=10) as sock:
        sock.sendall(uploads.head("Transfer-Encoding: chunked") + chunk(part_head()))
        try:
            while sent < STREAMED and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk(piece))
                sent += len(piece)
        except OSError:
            pass  # the server answered and closed: its answer is already here
        answer = _answer(sock)

    print(f"\n413 after {sent >> 10} KiB sent of {STREAMED >> 10} KiB")
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"upload-too-large" in answer
    assert sent < STREAMED
    assert uploads.leaves_nothing()


def test_an_announced_oversize_body_gets_413_at_once_unread(uploads: Upload):
    length = f"Content-Length: {64 * MAX_UPLOAD}"
    with socket.create_connection(("127.0.0.1", uploads.server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(uploads.head(length) + part_head())  # and not one byte more
        answer = _answer(sock, timeout=5.0)
        took = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"connection: close" in answer.lower()
    assert took < 2.0  # answered without waiting for the body, and the connection closed
    assert uploads.leaves_nothing()


def test_a_client_that_disconnects_mid_upload_leaves_no_file_and_no_row(uploads: Upload):
    length = f"Content-Length: {MAX_UPLOAD - 1024}"
    with socket.create_connection(("127.0.0.1", uploads.server.port), timeout=10) as sock:
        sock.sendall(uploads.head(length) + part_head())
        for _ in range(8):  # half the body: past the store's first write
            sock.sendall(os.urandom(64 * 1024))
        deadline = time.monotonic() + 5
        while not uploads.files() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert uploads.files(), "the upload never reached the store"
    # The socket is closed here, mid-body.

    assert uploads.leaves_nothing()
    with httpx.Client(base_url=uploads.server.url) as client:
        listed = client.get(f"/api/v1/items/{uploads.item['id']}/attachments", headers=uploads.auth)
    assert listed.json() == []
    assert "Traceback" not in uploads.server.log()


def test_an_upload_within_the_limit_is_stored_whole(uploads: Upload):
    data = os.urandom(MAX_UPLOAD)
    with httpx.Client(base_url=uploads.server.url) as client:
        url = f"/api/v1/items/{uploads.item['id']}/attachments"
        response = client.post(url, files={"file": ("ok.bin", data)}, headers=uploads.auth)
        assert response.status_code == 201, response.text
        download = client.get(response.headers["location"], headers=uploads.auth)
        client.delete(response.headers["location"], headers=uploads.auth)

    assert download.content == data
    assert uploads.leaves_nothing()  # deleted: the job removed the bytes
