"""Run an ASGI app factory on granian (optional: ``pip install granian``; the default server is uvicorn).

Granian imports the app in its own worker, so the app is named by an import string of a factory that
reads its configuration from the environment.
"""

from __future__ import annotations


def run_granian(factory: str, *, host: str, port: int) -> None:
    """Serve ``factory`` (``module:function``) with one worker on uvloop, like the uvicorn set-up."""
    try:
        from granian import Granian  # type: ignore[import-not-found, unused-ignore]
        from granian.constants import Interfaces, Loops  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        msg = "granian is not installed (pip install granian); use --server uvicorn"
        raise RuntimeError(msg) from exc
    Granian(factory, address=host, port=port, interface=Interfaces.ASGI, factory=True, workers=1,
            loop=Loops.uvloop, log_enabled=False).serve()
