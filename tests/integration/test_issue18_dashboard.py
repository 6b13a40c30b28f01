"""Issue 18: the dashboard page (GET / on the admin port) as a person sees it in a browser."""

import json
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import zlib

import pytest

import harness

pytestmark = [pytest.mark.issue18, pytest.mark.pgrelay_only("dashboard on the HTTP admin API")]

SLOW_MS = 20


class Load(threading.Thread):
    """Queries through the proxy until stopped: two fast ones, then one slower than the
    threshold (a third of them slow: unhealthy)."""

    def __init__(self, proxy):
        super().__init__(daemon=True)
        self.proxy = proxy
        self.stop = threading.Event()
        self.count = 0
        self.error = None

    def run(self):
        try:
            with self.proxy.connect(prepare_threshold=None) as conn:
                while not self.stop.is_set():
                    conn.execute("SELECT pg_sleep(0.03)" if self.count % 3 == 0 else "SELECT 1")
                    self.count += 1
                    time.sleep(0.005)
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.error = error

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(timeout=10)


def chromium(binary, profile, *args, timeout=60):
    """One headless run. Each run gets a profile of its own: a run on the profile of one that has
    just exited can be handed to that one's lingering browser process, with its flags (a
    --disable-javascript run then rendered with JavaScript)."""
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    res = subprocess.run(cmd, capture_output=True, timeout=timeout)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-2000:]
    return res.stdout.decode(errors="replace")


def png_pixels(path):
    """(width, height, rows of (r, g, b)) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


def count_color(rows, rgb, tolerance=24):
    return sum(1 for row in rows for px in row if all(abs(px[k] - rgb[k]) <= tolerance for k in range(3)))


def wait_for_history(p, points, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, doc = p.http("/metrics/queries/history")
        assert status == 200, doc
        if sum(1 for point in doc["points"] if point["total"] > 0) >= points:
            return doc
        time.sleep(0.3)
    raise AssertionError(f"fewer than {points} history points with queries after {timeout}s: {doc}")


def test_dashboard_in_headless_chromium(proxy, tmp_path):
    binary = harness.required_tool("chromium", "chromium")
    p = proxy(pool_mode="transaction", default_pool_size=4, health_window_s=6, slow_query_threshold_ms=SLOW_MS)
    url = f"http://127.0.0.1:{p.admin_port}/"
    shot = tmp_path / "dashboard.png"
    with Load(p) as load:
        history = wait_for_history(p, points=3)
        assert history["interval_s"] == 1 and history["threshold_ms"] == SLOW_MS
        status, health = p.http("/health")
        assert (status, health["status"]) == (503, "unhealthy"), health
        chromium(binary, tmp_path / "profile-shot", "--window-size=1200,1300", "--virtual-time-budget=3000",
                 f"--screenshot={shot}", url)
        dom = chromium(binary, tmp_path / "profile-dom", "--virtual-time-budget=6000", "--dump-dom", url)
        # The page as the server sends it, before any script: what a browser without JavaScript
        # shows. (A headless chromium run with --disable-javascript ran the scripts anyway once,
        # at load 11, with a profile of its own: not a check to rely on.)
        status, static = p.http("/")
        assert status == 200
    assert load.error is None, load.error
    assert load.count > 50

    # What the page says after its script refreshed it at least once.
    refreshed = int(re.search(r'<body[^>]*data-refreshed="(\d+)"', dom).group(1))
    assert refreshed >= 1, "the page refreshed itself from the admin API"
    word = re.search(r'id="status-word"[^>]*>([a-z]+)<', dom).group(1)
    assert word == "unhealthy"
    assert re.search(r"\d+ of \d+ queries slower than 20 ms", dom), "the status says why"
    points = int(re.search(r'id="chart"[^>]*data-points="(\d+)"', dom).group(1))
    assert points >= 2, "the chart has points"
    p99 = re.search(r'<path d="([^"]+)" class="line p99"', dom)
    assert p99 and p99.group(1).count("L") >= 1, "the p99 line has at least two points"
    assert re.search(r'<tr class="fingerprint"><td><code>SELECT pg_sleep\(\$1\)</code>', dom), "a fingerprint row"
    fingerprints = dom[dom.index('id="fingerprints"'):dom.index('id="pools"')]
    assert "0.03" not in fingerprints, "literals stay masked"

    # Without JavaScript the tables are there; only the chart stays empty.
    assert re.search(r'id="status-word"[^>]*>unhealthy<', static)
    assert "SELECT pg_sleep($1)" in static and "<h2>Pools</h2>" in static and "<h2>Backends</h2>" in static
    assert 'data-points="0"' in static and 'data-refreshed="0"' in static, "no script ran"

    # The screenshot shows the red status badge and the chart's p99 line.
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1200, 1300)
    assert count_color(rows, (0xC0, 0x10, 0x48)) > 300, "the unhealthy badge is visible"
    chart_rows = rows[100:500]
    assert count_color(chart_rows, (0xF0, 0x44, 0x38)) > 100, "the p99 line is drawn"
    assert count_color(chart_rows, (0x2E, 0x90, 0xFA)) > 100, "the p50 line is drawn"
    keep = os.environ.get("PGRELAY_DASHBOARD_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)


def test_history_endpoint_follows_the_window_slots(proxy):
    p = proxy(pool_mode="transaction", default_pool_size=4, health_window_s=6, slow_query_threshold_ms=SLOW_MS)
    with Load(p):
        doc = wait_for_history(p, points=2)
    assert doc["window_s"] == 6 and doc["interval_s"] == 1
    assert doc["degraded_ratio"] == 0.05 and doc["unhealthy_ratio"] == 0.1
    times = [point["t"] for point in doc["points"]]
    assert times == sorted(times) and len(set(times)) == len(times), "one point per slot, oldest first"
    assert all(abs((b - a) - 1) < 0.01 for a, b in zip(times, times[1:])), "consecutive 1-s slots"
    assert abs(times[-1] - time.time()) < 5, "wall-clock times"
    busy = [point for point in doc["points"] if point["total"] > 0]
    for point in busy:
        lat = point["latency_ms"]
        assert lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"] + 0.01
        assert set(point["by_route"]) == {"primary", "replica"}
        assert point["by_database"]["appdb"]["total"] == point["total"]
    assert json.dumps(doc).count("pg_sleep") == 0, "the history carries no statements"
