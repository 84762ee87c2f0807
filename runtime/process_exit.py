"""Ending a ``duban`` process once its work is done, without racing the Temporal core.

The Temporal SDK's core (Rust, sdk-core) runs its own threads. When one of its futures
finishes, a core thread takes the GIL, hands the result to the asyncio loop
(``call_soon_threadsafe``, which wakes the loop with a write to its self-pipe) and only
then lets go of the GIL. The main thread, woken by that write, can finish the command and
reach interpreter finalisation before the core thread is out of Python. CPython then
ends that thread where it waits for the GIL, and PyO3's guard, unwinding, releases a
thread state that is no longer current: ``Fatal Python error: PyGILState_Release: thread
state … must be current when releasing``, SIGABRT, a core dump (about one run in thirty
of ``duban simulate``, whose last step is the test server's shutdown future; see
temporalio/sdk-python#300). Nothing in the SDK stops those threads before finalisation,
so once a command has finished (its services stopped, its output written), the process
flushes what it wrote and leaves without finalising the interpreter.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

# Loaded once anything has made a Temporal client, worker or test server.
TEMPORAL_CORE_MODULE = "temporalio.bridge.temporal_sdk_bridge"


def exit_status(code: object) -> int:
    """The process status for ``SystemExit(code)``, as the interpreter would compute it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def end_process(status: int) -> NoReturn:
    """Exit with ``status``. With the Temporal core loaded, its threads may still be on
    their way out of Python, so the interpreter is not finalised: logs and standard
    streams are flushed here, and ``os._exit`` ends every thread at once."""
    if TEMPORAL_CORE_MODULE not in sys.modules:
        sys.exit(status)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away (``duban simulate --json | head``) is not an error here.
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)
