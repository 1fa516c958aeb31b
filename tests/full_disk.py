"""A session writer whose disk fills up: for the tests of what a full disk does to a recording."""
from __future__ import annotations

import csv
import errno
import os


class DiskFillsAfter:
    """A file whose writes fail with ENOSPC once ``room`` bytes are used, like a full filesystem."""

    def __init__(self, real, room: int):
        self.real, self.room = real, room

    def write(self, text: str) -> int:
        if len(text) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(text)
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()

    def close(self) -> None:
        self.real.close()


def fill_disk_after(writer, room: int) -> None:
    """From now on, ``writer``'s rows fail with ENOSPC once ``room`` more bytes are written."""
    writer._frames_fh = DiskFillsAfter(writer._frames_fh, room)
    writer._frames_csv = csv.writer(writer._frames_fh)
