"""A fork server for indexer processes: it imports the indexer once, then forks a fresh indexer process per
request, so the crash test can SIGKILL and restart an indexer 20+ times without paying the interpreter
start-up and imports (seconds on two busy cores) each time. Each child is a real, separate indexer
process (its own connections, state and signal handlers) killed for real; nothing runs in the zygote
between the imports and the fork (no polars thread pool exists yet).

Protocol: one JSON line ``{"env": {...}, "args": {...}}`` on stdin -> the child's pid on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import feature_platform.runtimes.stream._run as run


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.environ.update(request["env"])
            from feature_platform.settings import PlatformSettings

            settings = PlatformSettings()
            run.run_stream(settings, "dev", **request["args"])
            os._exit(0)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


class Zygote:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.stream.zygote"], env={**os.environ, **env},
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def spawn(self, env: dict[str, str], **args: object) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps({"env": env, "args": args}) + "\n").encode())
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    main()
