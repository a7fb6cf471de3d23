"""The app's response times on the default region, in a real browser and through AppTest.

Measured through AppTest (no browser), each the median of a few runs:

* first map: a new session's first page (graphs on disk, process caches warm);
* control change: the threshold, the travel mode, the year, each to a value not
  yet computed in the process, and back to a computed one;
* what-if: a facility moved through the workbench's number inputs, one new site
  each time (the baseline warm);

against the peer it replaces: the same change with Streamlit's caches cleared
first (graphs read again from the disk cache, every view recomputed: the app
without its caching). Browser rendering (Leaflet drawing the map) is not included
in these.

In a real browser (``--browser``; Debian's chromium driven by playwright, as
``tests/test_browser.py`` does; no downloaded browser), each figure on a fresh
``streamlit run app.py`` process:

* start to answer: the process started until ``/_stcore/health`` answers (the
  warm start runs the first page before that, :mod:`coverage.warmstart`);
* first map: the page opened as soon as the server answers, until the map's
  Leaflet features are drawn; then a second session opened after it;
* against the peer: the same server with ``COVERAGE_APP_WARM=0`` (answers at
  once, the first viewer's run computes everything); and a cold start, a copy of
  the packs without their ``cache/`` folders (the road network parsed, graphs
  built); and the floor, a Streamlit page holding one title, to its title.

The pack's disk cache is made warm first. External requests (base-map tiles) are
refused, as offline.

    python benchmarks/bench_app.py [--repeat 3] [--quick] [--browser | --apptest]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
REPEAT = 3
#: Features drawn on the page's Leaflet map (as tests/test_browser.py counts them).
DRAWN = ("() => { if (!(window.map && window.map._container && window.map._container.isConnected))"
         " return 0; let n = 0; window.map.eachLayer(l => { if (l.feature) n++; }); return n; }")


def timed(step) -> float:
    start = time.perf_counter()
    at = step()
    elapsed = time.perf_counter() - start
    assert not at.exception, [e.message for e in at.exception]
    return elapsed


def set_value(widget, key, value) -> float:
    """Seconds of the rerun after setting the widget ``key`` to ``value``."""
    return timed(lambda: widget(key=key).set_value(value).run())


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=300)


def main() -> None:
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help=f"runs per figure (default {REPEAT})")
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--browser", action="store_true", help="only the real-browser figures")
    only.add_argument("--apptest", action="store_true", help="only the AppTest figures")
    args = parser.parse_args()
    REPEAT = 1 if args.quick else args.repeat
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if not args.apptest:
        browser_figures()
    if not args.browser:
        apptest_figures()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


def apptest_figures() -> None:
    cold_start = time.perf_counter()
    at = new_app().run()
    print(f"first map, cold process (imports, graphs from disk): "
          f"{time.perf_counter() - cold_start:.2f} s")

    first = [timed(lambda: new_app().run()) for _ in range(REPEAT)]
    print(f"first map, new session, warm caches: {statistics.median(first):.2f} s  (target < 5 s)")

    changes = {"threshold": ("select_slider", "minutes", [10, 20, 30]),
               "mode": ("radio", "mode:zh", ["walk", "ebike", "car"]),
               "year": ("selectbox", f"year:{at.selectbox(key='region:zh').value}:zh",
                        [2020, 2022, 2024])}
    for name, (kind, key, values) in changes.items():
        at = new_app().run()
        widget = getattr(at, kind)
        fresh = [set_value(widget, key, v) for v in values]
        again = [set_value(widget, key, v) for v in values]
        uncached = []
        for v in values:
            st.cache_data.clear()
            st.cache_resource.clear()
            uncached.append(set_value(widget, key, v))
        print(f"control change, {name}: new value {statistics.median(fresh):.2f} s, "
              f"computed before {statistics.median(again):.2f} s (target < 1 s); "
              f"caches cleared {statistics.median(uncached):.2f} s "
              f"(ratio {statistics.median(uncached) / statistics.median(again):.1f}x)")

    at = new_app().run()
    at.session_state["page:zh"] = "迁建与选址"
    at.run()
    at.selectbox(key="edit_facility").set_value("gx-zouma-thc")
    at.radio(key="edit_action").set_value("move")
    whatif = []
    for i in range(REPEAT + 1):
        at.button(key="clear_edits").click().run()
        at.number_input(key="site_lon").set_value(106.30 + 0.01 * i)
        at.number_input(key="site_lat").set_value(29.50)
        whatif.append(timed(lambda: at.button(key="add_edit").click().run()))
    print(f"relocation what-if (one move, page with its map): "
          f"{statistics.median(whatif[1:]):.2f} s (first {whatif[0]:.2f} s builds the baseline; "
          f"target < 1 s)")


# --- real browser ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``streamlit run script`` as a fresh process; ``answered``: seconds from its start
    until ``/_stcore/health`` answers."""

    def __init__(self, script: str, root: Path = ROOT, **env: str) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env={**os.environ, "COVERAGE_APP_ROOT": str(root), **env},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.perf_counter() - start > 300:
                self.proc.kill()
                raise SystemExit("the app did not start: " + self.proc.stderr.read().decode()[-2000:])
            time.sleep(0.02)
        self.answered = time.perf_counter() - start

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _open(browser, url: str, until: str) -> float:
    """Seconds from opening ``url`` in a new browser context until the JS ``until``
    returns a truthy value in one of the page's frames."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith((url, "data:"))
                  else r.abort())
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    while time.perf_counter() - start < 300:
        for frame in page.frames:
            try:
                if frame.evaluate(until):
                    elapsed = time.perf_counter() - start
                    context.close()
                    return elapsed
            except Exception:  # noqa: BLE001 - a frame navigating away
                continue
        time.sleep(0.02)
    raise SystemExit(f"nothing drawn at {url} after 300 s")


def _sessions(browser, root: Path = ROOT, **env: str) -> tuple[float, float, float]:
    """(start to answer, first map after the answer, second session's map) of a fresh server."""
    server = Server(APP, root, **env)
    try:
        return server.answered, _open(browser, server.url, DRAWN), _open(browser, server.url, DRAWN)
    finally:
        server.close()


def _warm_disk_cache() -> None:
    """The default pack's parsed network and the graphs its first page uses, on disk."""
    from coverage import views
    from coverage.access import AccessContext
    from coverage.region import find_regions, load_region

    region = load_region(find_regions(ROOT)[0])
    context = AccessContext(region)
    for mode in views.modes_used(region, views.travel_mode(region, "by_kind")):
        context.graph(mode)


def _packs_without_cache(folder: Path) -> Path:
    """The repository's packs copied into ``folder`` without their cache folders."""
    shutil.copytree(ROOT, folder, ignore=shutil.ignore_patterns(
        ".git", ".venv", "cache", "__pycache__", ".pytest_cache", "tests", "docs", "benchmarks"))
    return folder


def _line(name: str, runs: list[tuple[float, float, float]]) -> tuple[float, float]:
    answered, first, second = (statistics.median(x) for x in zip(*runs))
    print(f"{name}: start to answer {answered:.2f} s; first map {first:.2f} s after the answer "
          f"({answered + first:.2f} s after the start); second session {second:.2f} s")
    return first, answered + first


def browser_figures() -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Debian's chromium is not installed (apt-get install chromium)")
    _warm_disk_cache()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        ours = _line("browser, warm start (disk cache warm)",
                     [_sessions(browser) for _ in range(REPEAT)])
        peer = _line("browser, peer: no warm start (COVERAGE_APP_WARM=0)",
                     [_sessions(browser, COVERAGE_APP_WARM="0") for _ in range(REPEAT)])
        print(f"  first map after the answer {ours[0]:.2f} s vs {peer[0]:.2f} s "
              f"(ratio {peer[0] / ours[0]:.1f}x; target < 3 s); after the start "
              f"{ours[1]:.2f} s vs {peer[1]:.2f} s (ratio {peer[1] / ours[1]:.1f}x)")
        with tempfile.TemporaryDirectory() as tmp:
            cold = _sessions(browser, _packs_without_cache(Path(tmp) / "packs"))
        _line("browser, cold start (no cache folder: network parsed, graphs built)", [cold])
        with tempfile.TemporaryDirectory() as tmp:
            floor = Path(tmp) / "floor.py"
            floor.write_text('import streamlit as st\nst.title("floor")\n')
            times = []
            for _ in range(REPEAT):
                server = Server(str(floor))
                try:
                    times.append(_open(browser, server.url, "() => !!document.querySelector('h1')"))
                finally:
                    server.close()
        print(f"browser, floor (a page with one title, to the title): "
              f"{statistics.median(times):.2f} s after the answer")
        browser.close()


if __name__ == "__main__":
    main()
