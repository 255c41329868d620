# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML reports and the SVG diagram rendered by a real browser (headless Chromium).

Each page is written to a temporary directory, screenshotted by ``chromium --headless`` (bounded
by a timeout; the whole process group is killed on expiry) and the PNG is decoded with zlib
(tests/unit/png_pixels.py): the page must not be blank and must show the report's colours.

Chromium comes from the Debian ``chromium`` package (scripts/setup.sh installs it). When it is
missing these tests fail with that message; they are never skipped.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from ansible_collections.safeq.hardening.plugins.plugin_utils import render_html as H
from ansible_collections.safeq.hardening.plugins.plugin_utils import render_svg as S

HERE = Path(__file__).resolve().parent
CHROMIUM_TIMEOUT = 120
WINDOW = (1280, 900)


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


png_pixels = _load("safeq_png_pixels", HERE.parents[1] / "png_pixels.py")
reports = _load("safeq_test_render_html", HERE / "test_render_html.py")


def hex_rgb(colour):
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


BANNER = hex_rgb("#1f3a5f")
SAFEQ_FILL = hex_rgb(S.KIND_STYLE["safeq"][0])
NETWORK_FILL = hex_rgb(S.KIND_STYLE["network"][0])
EXTERNAL_FILL = hex_rgb(S.KIND_STYLE["external"][0])
BAD_CARD = hex_rgb("#fde2e4")
FAIL_RED = hex_rgb("#b00020")


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: scripts/setup.sh installs the Debian package `chromium`; "
                    "for a manual run: apt-get install -y chromium", pytrace=False)
    return path


def screenshot(chromium_path, page, tmp_path, size=WINDOW):
    """Pixels of a headless Chromium screenshot of ``page`` (a file)."""
    png = tmp_path / (page.stem + ".png")
    command = [
        chromium_path, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--user-data-dir=%s" % (tmp_path / ("profile-" + page.stem)), "--screenshot=%s" % png,
        "--window-size=%d,%d" % size, page.as_uri(),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        try:
            stderr = process.communicate(timeout=CHROMIUM_TIMEOUT)[1]
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail("chromium did not finish %s within %d s" % (page.name, CHROMIUM_TIMEOUT))
    assert process.returncode == 0 and png.is_file(), "chromium failed (rc %s): %s" % (
        process.returncode, stderr[-2000:])
    pixels = png_pixels.decode_png(png.read_bytes())
    assert (pixels.width, pixels.height) == size
    return pixels


def count_near(pixels, colour, tolerance=8, step=2):
    return sum(1 for rgb in pixels.iter_rgb(step) if all(abs(a - b) <= tolerance for a, b in zip(rgb, colour)))


def assert_not_blank(pixels, min_share, min_colours):
    share, colours = png_pixels.colour_stats(pixels)
    assert share >= min_share, "only %.1f%% of the pixels are not white" % (100 * share)
    assert colours >= min_colours, "only %d distinct colours" % colours


# ---- the PNG decoder itself -------------------------------------------------------------------

def _png(width, height, colour_type, rows, filters):
    """Encode ``rows`` (raw scanlines) with the given per-row filter types."""
    channels = png_pixels.CHANNELS[colour_type]
    raw, prev = bytearray(), bytes(width * channels)
    for row, kind in zip(rows, filters):
        out = bytearray()
        for i, value in enumerate(row):
            left = row[i - channels] if i >= channels else 0
            up, corner = prev[i], prev[i - channels] if i >= channels else 0
            guess = left + up - corner
            paeth = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))[2]
            predictor = (0, left, up, (left + up) >> 1, paeth)[kind]
            out.append((value - predictor) & 255)
        raw += bytes([kind]) + out
        prev = row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return png_pixels.SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw))) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("colour_type", [0, 2, 4, 6])
def test_png_decoder_round_trips_every_filter(colour_type):
    channels = png_pixels.CHANNELS[colour_type]
    width, height = 7, 10
    rows = [bytes((x * 37 + y * 91 + c * 53 + x * y * 13) % 256 for x in range(width) for c in range(channels))
            for y in range(height)]
    pixels = png_pixels.decode_png(_png(width, height, colour_type, rows, [y % 5 for y in range(height)]))
    assert (pixels.width, pixels.height, pixels.channels) == (width, height, channels)
    assert pixels.rows == rows
    expected = (rows[4][3 * channels],) * 3 if channels < 3 else tuple(rows[4][3 * channels:3 * channels + 3])
    assert pixels.rgb(3, 4) == expected
    with pytest.raises(png_pixels.PngError):
        png_pixels.decode_png(b"GIF89a" + bytes(20))


# ---- real browser -----------------------------------------------------------------------------

def test_plan_report_in_chromium(chromium, tmp_path):
    page = tmp_path / "plan.html"
    page.write_text(H.plan_report_html(reports.example_plan_report()), encoding="utf-8")
    pixels = screenshot(chromium, page, tmp_path)
    assert_not_blank(pixels, 0.25, 12)
    assert pixels.rgb(WINDOW[0] // 2, 10) == BANNER  # the inline CSS applies
    assert count_near(pixels, BAD_CARD) > 500  # the "unresolved ports" card is red


def test_plan_report_diagram_in_chromium(chromium, tmp_path):
    """A tall window shows the inline SVG diagram: node colours of all three columns."""
    page = tmp_path / "plan_tall.html"
    page.write_text(H.plan_report_html(reports.example_plan_report()), encoding="utf-8")
    pixels = screenshot(chromium, page, tmp_path, size=(1280, 1800))
    for colour in (SAFEQ_FILL, NETWORK_FILL, EXTERNAL_FILL):
        assert count_near(pixels, colour, tolerance=4) > 1000, colour


def test_check_report_in_chromium(chromium, tmp_path):
    page = tmp_path / "check.html"
    page.write_text(H.check_report_html(reports.check_report()), encoding="utf-8")
    pixels = screenshot(chromium, page, tmp_path)
    assert_not_blank(pixels, 0.25, 12)
    assert pixels.rgb(WINDOW[0] // 2, 10) == BANNER
    assert count_near(pixels, FAIL_RED) > 300  # FAIL result card border and failure pills
    assert count_near(pixels, BAD_CARD) > 2000


def test_flow_diagram_svg_in_chromium(chromium, tmp_path):
    page = tmp_path / "flows.svg"
    page.write_text(S.flow_diagram_svg(reports.samples.example_flows()), encoding="utf-8")
    pixels = screenshot(chromium, page, tmp_path)
    assert_not_blank(pixels, 0.08, 12)
    for colour in (SAFEQ_FILL, NETWORK_FILL, EXTERNAL_FILL):
        assert count_near(pixels, colour, tolerance=4) > 1000, colour


def test_2000_host_plan_report_in_chromium(chromium, tmp_path):
    """The 2,000-host report loads and paints in the browser within the timeout."""
    page = tmp_path / "plan_2000.html"
    page.write_text(H.plan_report_html(reports.large_plan_report()), encoding="utf-8")
    pixels = screenshot(chromium, page, tmp_path)
    assert_not_blank(pixels, 0.25, 12)
    assert pixels.rgb(WINDOW[0] // 2, 10) == BANNER
