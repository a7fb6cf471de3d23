"""Serve the app and screenshot every tab, in Chinese and English, with headless Chromium.

Usage::

    python scripts/screenshots.py [OUT_DIR] [--chromium /usr/bin/chromium]

Starts ``streamlit run app.py`` on a free localhost port, opens it with Playwright
driving the system Chromium (Debian's ``chromium`` package; Playwright's own browser
download is not needed), writes one PNG per tab and language into ``OUT_DIR``
(default ``screenshots/``), plus the workbench with a pack scenario open, and stops
the server it started. Needs the ``screenshots`` extra (``pip install -e .[screenshots]``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coverage.ui_text import TEXT

TABS = ("tab_map", "tab_targets", "tab_townships", "tab_workbench", "tab_data", "tab_sources")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int) -> subprocess.Popen:
    """Start the app on ``port``; return once it answers its health check."""
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    stop(server)
    raise RuntimeError("the app did not start within 60 s")


def stop(server: subprocess.Popen) -> None:
    """Stop the server started here (its own process group)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def settle(page, extra_ms: int = 2500) -> None:
    """Wait until the script run is over and the map iframes had time to draw."""
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stStatusWidgetRunningIcon"]', state="detached",
                           timeout=120_000)
    page.wait_for_timeout(extra_ms)


def shoot(url: str, out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2000})
        page.goto(url)
        settle(page, 4000)
        for lang in ("zh", "en"):
            t = TEXT[lang]
            if lang == "en":
                page.get_by_text("English", exact=True).click()
                settle(page)
            for i, key in enumerate(TABS):
                page.get_by_role("tab", name=t[key]).click()
                settle(page)
                path = out / f"{lang}-{i + 1}-{key.removeprefix('tab_')}.png"
                page.screenshot(path=path, full_page=True)
                written.append(path)
        # The workbench with a pack scenario: before/after at once.
        page.get_by_role("tab", name=t["tab_workbench"]).click()
        settle(page)
        page.get_by_text(t["scenario_sources"]["pack"], exact=True).click()
        settle(page, 3500)
        path = out / "en-7-workbench-scenario.png"
        page.screenshot(path=path, full_page=True)
        written.append(path)
        browser.close()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "screenshots"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = serve(port)
    try:
        for path in shoot(f"http://127.0.0.1:{port}/", out, args.chromium):
            print(path)
    finally:
        stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
