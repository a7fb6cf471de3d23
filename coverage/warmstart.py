"""The app's warm start: its first page computed before the server answers.

``streamlit run app.py`` serves the ``st.App`` that ``app.py`` declares, whose
lifespan is :func:`first_page`. Once Streamlit's runtime has started, and before
the server accepts connections (``/_stcore/health`` answers), it opens one
session inside the server, with no browser (:class:`WarmClient`), runs the page
once with its default controls (the default region, its 15-minute circle), and
closes the session. The regions, graphs, travel times and the map's frames are
then in Streamlit's caches, computed by the very functions a viewer's session
calls (a cache entry is keyed by the function's module, name and source, so only
the script itself can fill them), and the first viewer's page is drawn from them.

The wait is bounded (:data:`WARM_TIMEOUT_S`): past it the server answers anyway
and the run finishes in the background, the first viewer then waiting for what
is left of it. ``COVERAGE_APP_WARM=0`` in the environment serves at once, unwarmed
(the benchmark's peer, ``benchmarks/bench_app.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

LOG = logging.getLogger("coverage.app")
#: Longest wait for the warm run before the server answers anyway, in seconds.
WARM_TIMEOUT_S = 120.0


class WarmClient:
    """A session client with no browser: drops what the page sends and calls
    ``on_finished`` once the script run has finished (with or without an error)."""

    def __init__(self, on_finished: Callable[[], None]) -> None:
        self.on_finished = on_finished
        self.messages = 0

    def write_forward_msg(self, msg) -> None:
        self.messages += 1
        if msg.WhichOneof("type") == "script_finished":
            self.on_finished()

    @property
    def client_context(self):
        return None


async def warm_run(runtime, timeout: float = WARM_TIMEOUT_S) -> bool:
    """Run the app's page once in a session of ``runtime`` with no browser.

    Returns whether the run finished within ``timeout`` seconds; the session is
    closed once it has (later, if the wait timed out).
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ClientState_pb2 import ClientState

    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    session: list[str] = []

    def done() -> None:  # on the runtime's thread: hand over to the event loop
        def close() -> None:
            if not finished.is_set():
                finished.set()
                runtime.close_session(session[0])
        loop.call_soon_threadsafe(close)

    session.append(runtime.connect_session(WarmClient(done), user_info={"is_logged_in": False}))
    runtime.handle_backmsg(session[0], BackMsg(rerun_script=ClientState()))
    try:
        await asyncio.wait_for(asyncio.shield(finished.wait()), timeout)
    except TimeoutError:
        LOG.warning("warm start still running after %.0f s: the server answers now", timeout)
        return False
    return True


@asynccontextmanager
async def first_page(app) -> AsyncIterator[None]:
    """``st.App`` lifespan: the page run once (:func:`warm_run`) before the server answers."""
    from streamlit.runtime import Runtime

    if os.environ.get("COVERAGE_APP_WARM", "1") != "0":
        await warm_run(Runtime.instance())
    yield
