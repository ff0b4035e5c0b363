"""Messages between a camera worker process and the relay, over the worker's stdout.

Each message is one kind byte, a 4-byte big-endian length and the body.
The relay sends control lines (JSON) to the worker's stdin. Kept tiny and
binary because a relayed 1080p stream passes through here (~500 KB/s).
"""

from __future__ import annotations

import json
import os
import struct
from array import array
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator, Sequence

import numpy as np

HEADER = struct.Struct("!cI")
STATUS = b"S"  # JSON: state, attempt, wait_s, error, codec, width, height, relay_format
PACKETS = b"P"  # arrival times (float64), sizes (uint32) and keyframe flags (uint8) of video packets
GRAY = b"G"  # a small gray frame for the health checks: at (float64), height, width (uint16), pixels
PICTURE = b"J"  # a JPEG of the latest picture: at (float64), JPEG bytes
RELAY = b"T"  # relayed bytes: flags (uint8, 1 = starts at a keyframe), data
MAX_BODY = 64 * 1024 * 1024

_GRAY_HEAD = struct.Struct("!dHH")
_AT = struct.Struct("!d")
_KEYFRAME, _NOT_KEYFRAME = b"\x01", b"\x00"


def frame(kind: bytes, body: bytes) -> bytes:
    return HEADER.pack(kind, len(body)) + body


class Writer:
    """The worker's side: writes whole messages to a binary stream.

    Given a real file (a pipe), each message leaves in one `writev` system
    call without copying or joining the body: a relayed stream is ~25
    messages a second, and this is the worker's hottest path.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        try:
            self._fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None

    def send(self, kind: bytes, body: bytes | memoryview) -> None:
        self.send_parts(kind, (body,))

    def send_parts(self, kind: bytes, parts: Sequence[bytes | memoryview]) -> None:
        """One message whose body is `parts` joined, written without joining them."""
        size = sum(map(len, parts))
        head = HEADER.pack(kind, size)
        if self._fd is None:
            self.stream.write(head + b"".join(parts))
            self.stream.flush()
            return
        pending = [head, *parts]
        left = HEADER.size + size
        while (left := left - os.writev(self._fd, pending)) > 0:
            # The pipe took only the first bytes (a signal, a full pipe): carry on after them.
            done = sum(map(len, pending)) - left
            while done >= len(pending[0]):
                done -= len(pending.pop(0))
            pending[0] = memoryview(pending[0])[done:]

    def status(self, **fields: Any) -> None:
        self.send(STATUS, json.dumps(fields, ensure_ascii=False).encode("utf-8"))

    def packets(self, arrivals: list[float], sizes: list[int], keys: list[bool] | list[int]) -> None:
        body = array("d", arrivals).tobytes() + array("I", sizes).tobytes() + bytes(keys)
        self.send(PACKETS, len(arrivals).to_bytes(4, "big") + body)

    def gray(self, at: float, pixels: np.ndarray) -> None:
        height, width = pixels.shape
        self.send(GRAY, _GRAY_HEAD.pack(at, height, width) + np.ascontiguousarray(pixels).tobytes())

    def picture(self, at: float, jpeg: bytes) -> None:
        self.send(PICTURE, _AT.pack(at) + jpeg)

    def relay(self, parts: Sequence[bytes], keyframe: bool) -> None:
        """Relayed bytes (one packet's, in the pieces the muxer wrote them)."""
        self.send_parts(RELAY, (_KEYFRAME if keyframe else _NOT_KEYFRAME, *parts))


def messages(stream: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(kind, body) of each message read from a blocking binary stream, until it ends (tools and tests)."""
    while len(head := stream.read(HEADER.size)) == HEADER.size:
        kind, length = HEADER.unpack(head)
        body = stream.read(length)
        if len(body) < length:
            return
        yield kind, body


@dataclass(frozen=True, slots=True)
class PacketNotes:
    arrivals: list[float]
    sizes: list[int]
    keys: list[int]


def read_packets(body: bytes) -> PacketNotes:
    n = int.from_bytes(body[:4], "big")
    arrivals = array("d")
    arrivals.frombytes(body[4:4 + 8 * n])
    sizes = array("I")
    sizes.frombytes(body[4 + 8 * n:4 + 12 * n])
    return PacketNotes(arrivals.tolist(), sizes.tolist(), list(body[4 + 12 * n:4 + 13 * n]))


def read_gray(body: bytes) -> tuple[float, np.ndarray]:
    at, height, width = _GRAY_HEAD.unpack_from(body)
    pixels = np.frombuffer(body, np.uint8, count=height * width, offset=_GRAY_HEAD.size)
    return at, pixels.reshape(height, width)


def read_picture(body: bytes) -> tuple[float, bytes]:
    return _AT.unpack_from(body)[0], body[_AT.size:]


def read_relay(body: bytes) -> tuple[bytes, bool]:
    return body[1:], body[0] == 1
