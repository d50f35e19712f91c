"""A Server-Sent Events client for the live-update tests: reads one stream on a thread and
keeps every frame (events, comments, retry hints) in arrival order."""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Frame:
    event: str = "message"
    id: str | None = None
    data: str = ""
    retry: int | None = None
    comment: str | None = None
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.data)


class SseStream:
    """GET `path` on 127.0.0.1:`port`; `status`/`headers` once the response head arrived,
    `frames` as they come, `closed` once the server ended the stream."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None,
                 timeout: float = 10.0):
        self.frames: list[Frame] = []
        self.closed = threading.Event()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""  # a non-stream answer (a problem)
        self._cond = threading.Condition()
        self._sock = socket.create_connection(("127.0.0.1", int(port)), timeout=timeout)
        lines = [f"GET {path} HTTP/1.1", f"Host: {getattr(port, 'host', '127.0.0.1')}",
                 "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._buf = b""
        self._read_head()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # -- reading

    def _recv(self) -> bytes:
        try:
            return self._sock.recv(65536)
        except OSError:
            return b""

    def _read_head(self) -> None:
        while b"\r\n\r\n" not in self._buf:
            chunk = self._recv()
            if not chunk:
                raise ConnectionError(f"no response head: {self._buf!r}")
            self._buf += chunk
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        for line in header_lines:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if "content-length" in self.headers:  # not a stream: a problem answer
            length = int(self.headers["content-length"])
            while len(self._buf) < length:
                chunk = self._recv()
                if not chunk:
                    break
                self._buf += chunk
            self.body, self._buf = self._buf[:length], b""

    def _raw(self):
        """The body of a stream that ends with the connection."""
        if self._buf:
            yield self._buf
        while chunk := self._recv():
            yield chunk

    def _chunks(self):
        """Decoded chunk payloads until the terminating chunk or a close."""
        buf = self._buf
        while True:
            while b"\r\n" not in buf:
                more = self._recv()
                if not more:
                    return
                buf += more
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                more = self._recv()
                if not more:
                    return
                buf += more
            payload, buf = buf[:size], buf[size + 2:]
            if size == 0:
                return
            yield payload

    def _run(self) -> None:
        try:
            if "content-length" in self.headers:
                return
            chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
            text = ""
            for payload in self._chunks() if chunked else self._raw():
                text += payload.decode("utf-8")
                while "\n\n" in text:
                    block, text = text.split("\n\n", 1)
                    self._add(self._parse(block))
        finally:
            self.closed.set()
            with self._cond:
                self._cond.notify_all()

    @staticmethod
    def _parse(block: str) -> Frame:
        f = Frame()
        data: list[str] = []
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "":
                f.comment = value
            elif name == "event":
                f.event = value
            elif name == "id":
                f.id = value
            elif name == "data":
                data.append(value)
            elif name == "retry":
                f.retry = int(value)
        f.data = "\n".join(data)
        return f

    def _add(self, frame: Frame) -> None:
        with self._cond:
            self.frames.append(frame)
            self._cond.notify_all()

    # -- asking

    def events(self, name: str | None = None) -> list[Frame]:
        with self._cond:
            return [f for f in self.frames
                    if f.comment is None and f.data and (name is None or f.event == name)]

    def wait_for(self, pred: Callable[[list[Frame]], bool], timeout: float = 5.0,
                 what: str = "frames") -> list[Frame]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self.frames):
                left = deadline - time.monotonic()
                if left <= 0 or (self.closed.is_set() and not pred(self.frames)):
                    raise AssertionError(f"timed out waiting for {what}; got {self.frames!r}")
                self._cond.wait(min(left, 0.2))
            return list(self.frames)

    def wait_events(self, n: int, name: str = "count_updated", timeout: float = 5.0) -> list[Frame]:
        self.wait_for(lambda fs: sum(1 for f in fs if f.event == name and f.data) >= n,
                      timeout, f"{n} {name} events")
        return self.events(name)

    def initial(self, timeout: float = 5.0) -> dict:
        self.wait_for(lambda fs: any(f.event == "initial" for f in fs), timeout, "initial")
        return self.events("initial")[0].json()

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "SseStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
