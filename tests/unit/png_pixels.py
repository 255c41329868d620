# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decode a PNG with the standard library (zlib) to judge a screenshot: no Pillow.

Supports what browsers write for screenshots: 8-bit greyscale, grey+alpha, RGB and RGBA,
not interlaced. ``decode_png(data)`` returns a ``Pixels``; ``colour_stats`` summarizes it.
"""

from __future__ import annotations

import itertools
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


class PngError(ValueError):
    """Not a PNG this decoder supports."""


class Pixels:
    """Decoded image: ``rgb(x, y)`` gives an (r, g, b) tuple (alpha is ignored)."""

    def __init__(self, width, height, channels, rows):
        self.width = width
        self.height = height
        self.channels = channels
        self.rows = rows  # one bytes object per scanline, filters removed

    def rgb(self, x, y):
        row, start = self.rows[y], x * self.channels
        if self.channels < 3:
            return (row[start],) * 3
        return row[start], row[start + 1], row[start + 2]

    def iter_rgb(self, step=1):
        """Every ``step``-th pixel of every ``step``-th row."""
        for y in range(0, self.height, step):
            row = self.rows[y]
            for x in range(0, self.width, step):
                start = x * self.channels
                if self.channels < 3:
                    yield (row[start],) * 3
                else:
                    yield row[start], row[start + 1], row[start + 2]


def _chunks(data):
    if data[:8] != SIGNATURE:
        raise PngError("not a PNG file (bad signature)")
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise PngError("truncated %r chunk" % kind)
        yield kind, body
        pos += 12 + length  # length, type, body, CRC
        if kind == b"IEND":
            return
    raise PngError("no IEND chunk")


def _unfilter_row(kind, row, prev, bpp):
    if kind == 0:
        return bytes(row)
    if kind == 1:  # Sub: each channel is a running sum
        out = bytearray(len(row))
        for channel in range(bpp):
            out[channel::bpp] = bytes(itertools.accumulate(row[channel::bpp], lambda a, b: (a + b) & 255))
        return bytes(out)
    if kind == 2:  # Up
        return bytes((a + b) & 255 for a, b in zip(row, prev))
    out = bytearray(row)
    if kind == 3:  # Average
        for i, value in enumerate(out):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (value + ((left + prev[i]) >> 1)) & 255
        return bytes(out)
    if kind == 4:  # Paeth
        for i, value in enumerate(out):
            left = out[i - bpp] if i >= bpp else 0
            up = prev[i]
            corner = prev[i - bpp] if i >= bpp else 0
            guess = left + up - corner
            dist_left, dist_up, dist_corner = abs(guess - left), abs(guess - up), abs(guess - corner)
            if dist_left <= dist_up and dist_left <= dist_corner:
                predictor = left
            elif dist_up <= dist_corner:
                predictor = up
            else:
                predictor = corner
            out[i] = (value + predictor) & 255
        return bytes(out)
    raise PngError("unknown filter type %d" % kind)


def decode_png(data):
    """Pixels of the PNG bytes ``data``."""
    header, idat = None, []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    if header is None or not idat:
        raise PngError("missing IHDR or IDAT")
    width, height, depth, colour, interlace = header[0], header[1], header[2], header[3], header[6]
    if depth != 8 or colour not in CHANNELS or interlace:
        raise PngError("unsupported PNG: bit depth %d, colour type %d, interlace %d" % (depth, colour, interlace))
    channels = CHANNELS[colour]
    stride = width * channels
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != height * (stride + 1):
        raise PngError("image data has %d bytes, expected %d" % (len(raw), height * (stride + 1)))
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prev = _unfilter_row(raw[start], raw[start + 1:start + 1 + stride], prev, channels)
        rows.append(prev)
    return Pixels(width, height, channels, rows)


def colour_stats(pixels, step=2, white=245, bucket=32):
    """(share of non-white pixels, number of distinct colours after quantizing to ``bucket`` steps)."""
    total = non_white = 0
    colours = set()
    for r, g, b in pixels.iter_rgb(step):
        total += 1
        if r < white or g < white or b < white:
            non_white += 1
        colours.add((r // bucket, g // bucket, b // bucket))
    return (non_white / total if total else 0.0), len(colours)
