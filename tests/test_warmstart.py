"""The app's warm start (:mod:`coverage.warmstart`): the first page computed before the
server answers, once, and reused by the next session."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Runs in its own process: Streamlit's runtime is a process-wide singleton, which the
#: AppTest tests must not find. The views the map page computes are counted.
SERVER = """
import asyncio, json, sys
import streamlit as st
from streamlit.runtime import Runtime
from coverage import views, warmstart

calls = {}
def counted(name):
    original = getattr(views, name)
    def wrapper(*args, **kw):
        calls[name] = calls.get(name, 0) + 1
        return original(*args, **kw)
    setattr(views, name, wrapper)
for name in ("township_view", "isochrone_view", "gaps_view"):
    counted(name)

app = st.App(sys.argv[1], lifespan=warmstart.first_page)

async def main():
    async with app.lifespan()(None):
        first = dict(calls)
        finished = await warmstart.warm_run(Runtime.instance())
        sessions = len(Runtime.instance()._session_mgr.list_sessions())
        print(json.dumps({"first": first, "second": dict(calls), "finished": finished,
                          "sessions": sessions}))

asyncio.run(main())
"""


def test_streamlit_run_serves_the_app_with_its_warm_start():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"


def test_warm_start_computes_the_first_page_once_and_a_second_session_reuses_it():
    run = subprocess.run([sys.executable, "-c", SERVER, str(ROOT / "app.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    # Before the server answers: the default view's townships, bands and gaps, once each.
    assert result["first"] == {"township_view": 1, "isochrone_view": 1, "gaps_view": 1}
    # A second session's page computes nothing again, and both sessions are closed.
    assert result["second"] == result["first"]
    assert result["finished"] and result["sessions"] == 0
