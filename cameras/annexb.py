"""H.264/H.265 Annex B byte streams: frames and NAL units. Standard library only,
so Debian's system Python (the RTSP simulator) can use it too."""

from __future__ import annotations

AUD = b"\x00\x00\x00\x01\x09"


def split_access_units(data: bytes) -> list[bytes]:
    """Split an Annex B stream with access unit delimiters into its frames."""
    marks, start = [], 0
    while (i := data.find(AUD, start)) != -1:
        marks.append(i)
        start = i + len(AUD)
    return [data[a:b] for a, b in zip(marks, marks[1:] + [len(data)])]


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B buffer, without start codes or trailing zero bytes."""
    out = []
    i = data.find(b"\x00\x00\x01")
    while i != -1:
        j = data.find(b"\x00\x00\x01", i + 3)
        nal = data[i + 3:len(data) if j == -1 else j]
        out.append(nal.rstrip(b"\x00"))
        i = j
    return out
