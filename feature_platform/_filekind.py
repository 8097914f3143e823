"""What a ``stat`` mode is, in the words of an error message: every reader that refuses a FIFO (opening one blocks
until a writer comes), a device (``/dev/zero`` never ends) or a socket names it the same way."""

from __future__ import annotations

import stat


def file_kind(mode: int) -> str:
    """``"a FIFO"``, ``"a device"``, ``"a socket"``, ``"a directory"``, ``"a regular file"``, ``"a symbolic link"``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a file"
