"""The app's response times on the default region, driven by AppTest (no browser).

Measured, each the median of a few runs:

* first map: a new session's first page (graphs on disk, process caches warm);
* control change: the threshold, the travel mode, the year, each to a value not
  yet computed in the process, and back to a computed one;
* what-if: a facility moved through the workbench's number inputs, one new site
  each time (the baseline warm);

against the peer it replaces: the same change with Streamlit's caches cleared
first (graphs read again from the disk cache, every view recomputed: the app
without its caching). Browser rendering (Leaflet drawing the map) is not included.

    python benchmarks/bench_app.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
REPEAT = 3


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
    REPEAT = parser.parse_args().repeat
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


if __name__ == "__main__":
    main()
