"""A 1,000,000-point series drawn raw and M4-downsampled lights exactly the same pixels, spikes included."""

from __future__ import annotations

import base64
import math
from array import array

import pytest
from playwright.sync_api import Browser

from runyard.services.metric_downsample import RawPoint, downsample

WIDTH, HEIGHT = 600, 200
N = 1_000_000
SPIKES = {123_457: 8.0, 654_321: -8.0, 999_000: 6.5}

# Draws one polyline per call on its own canvas, x snapped to the centre of its pixel column (the
# column M4 buckets by), and returns which pixels got any ink.
# Values travel as base64 float64 (a million numbers as one string is quick to hand over).
DRAW = """async ([ys64, xs64, lo, hi, ymin, ymax, width, height]) => {
  const decode = async (text) =>
    new Float64Array(await (await fetch("data:application/octet-stream;base64," + text)).arrayBuffer());
  const ys = await decode(ys64), xs = await decode(xs64);
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#000";
  ctx.beginPath();
  for (let i = 0; i < ys.length; i++) {
    const column = Math.min(width - 1, Math.floor((xs[i] - lo) / (hi - lo) * width));
    const px = column + 0.5;
    const py = (1 - (ys[i] - ymin) / (ymax - ymin)) * (height - 1) + 0.5;
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  }
  ctx.stroke();
  const data = ctx.getImageData(0, 0, width, height).data;
  const ink = [];
  for (let p = 3; p < data.length; p += 4) if (data[p] > 0) ink.push((p - 3) / 4);
  return ink;
}"""


def _b64(values: list[float]) -> str:
    return base64.b64encode(array("d", values).tobytes()).decode()


@pytest.mark.slow  # a million canvas segments, rasterised in software
def test_downsampled_and_raw_series_draw_the_same_pixels(browser: Browser) -> None:
    values = [math.sin(i / 20_000) + 0.3 * math.sin(i / 97) for i in range(N)]
    for index, value in SPIKES.items():
        values[index] = value
    points = [RawPoint(i, i, v) for i, v in enumerate(values)]
    reduced = downsample([("r", "loss", points, None)], width=WIDTH).series[0]
    assert reduced.downsampled and len(reduced.x) <= 4 * WIDTH

    page = browser.new_page()
    try:
        args = [0.0, float(N - 1), -8.5, 8.5, WIDTH, HEIGHT]
        raw_ink = set(page.evaluate(DRAW, [_b64(values), _b64([float(i) for i in range(N)]), *args]))
        m4_ink = set(page.evaluate(DRAW, [_b64(reduced.y), _b64(reduced.x), *args]))
    finally:
        page.close()
    assert raw_ink == m4_ink
    # Each single-sample spike reaches its extreme row in both drawings.
    for index, value in SPIKES.items():
        column = index * WIDTH // N
        row = round((1 - (value + 8.5) / 17) * (HEIGHT - 1))
        assert any(pixel in m4_ink for pixel in (row * WIDTH + column, (row + 1) * WIDTH + column)), index
