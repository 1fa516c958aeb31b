"""Reading a session's ``frames.csv`` into float columns (NaN where a cell is empty).

An hour's session is 108,000 rows of 153 columns (97 MB), and the window waits for them when it
opens the session for replay. Two readers give the same arrays:

- the fast one parses the bytes with NumPy's C reader (empty cells written as ``nan`` first):
  1.5 s for that hour on these machines, against the careful one's 4.0 s. It handles only
  a file the way the writer leaves it: every line of the header's number of cells, but the last
  one if it was cut off mid-write (a recording killed; it is dropped and counted);
- the careful one (:mod:`csv`, Python's float) takes anything else, a hand-edited file with
  quoted cells or a cell that is not a number, and names what is wrong by line and column.

The file is read and parsed a chunk at a time, so that a reader on a thread of its own leaves the
interpreter to the window between chunks (each holds it for a few milliseconds).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np

CHUNK_BYTES = 1 << 20  # read and parsed a chunk at a time: about 1,100 rows, 5-10 ms of parsing


class TableError(ValueError):
    """frames.csv cannot be read as the session's columns; the message names the line (and column)."""


def read_frames_table(path: Path, columns: Sequence[str], schema: str) -> tuple[dict[str, np.ndarray], int]:
    """``({column: float64 array}, rows dropped)`` from ``path``, whose header must be ``columns``
    (those of session schema ``schema``).

    A last line with the wrong number of cells (cut off mid-write) is dropped and counted; any
    other line with the wrong number of cells, or a cell that is not a number, raises
    :class:`TableError` naming its line."""
    with path.open("rb") as fh:
        header = fh.readline()
        if tuple(next(csv.reader([header.rstrip(b"\r\n").decode("utf-8", "replace")]), [])) != tuple(columns):
            raise TableError(f"{path}: header does not match the {schema} columns")
        try:
            parts, dropped = _fast(fh, len(columns))
        except ValueError:
            fh.seek(len(header))
            table, dropped = _careful(fh.read().decode("utf-8", "replace"), columns, path)
            parts = [table]
    return {name: np.concatenate([p[:, j] for p in parts]) for j, name in enumerate(columns)}, dropped


def _fast(fh, width: int) -> tuple[list[np.ndarray], int]:
    """The rows as blocks of a float table and the rows dropped (a last line cut off), for a file
    the way the writer leaves it; ValueError for anything else (the careful reader then takes it)."""
    parts = [np.empty((0, width))]
    carry = b""
    while chunk := fh.read(CHUNK_BYTES):
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            parts.append(_parse(data[:cut], width))
    dropped = 0
    if carry.strip():  # a last line without its line end: a recording killed mid-write
        if carry.count(b",") == width - 1:  # cut in its last cell: whole as far as a reader can tell
            parts.append(_parse(carry + b"\n", width))
        else:
            dropped = 1
    return parts, dropped


def _parse(lines: bytes, width: int) -> np.ndarray:
    if b'"' in lines:
        raise ValueError("quoted cells")
    lines = lines.replace(b"\r\n", b"\n")  # the csv module's line ends, which the writer uses
    if b"\r" in lines:
        raise ValueError("a lone CR")
    # NumPy's reader takes no empty cell: each is written as nan (",," twice, for runs of them)
    block = (b"\n" + lines).replace(b",,", b",nan,").replace(b",,", b",nan,")
    block = block.replace(b"\n,", b"\nnan,").replace(b",\n", b",nan\n")
    part = np.loadtxt(io.BytesIO(block), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    if part.shape != (lines.count(b"\n"), width):  # a blank line, say: the careful reader names it
        raise ValueError("a line with the wrong number of cells")
    return part


def _careful(text: str, columns: Sequence[str], path: Path) -> tuple[np.ndarray, int]:
    body = list(csv.reader(io.StringIO(text, newline="")))
    dropped = 0
    if body and len(body[-1]) != len(columns):
        body = body[:-1]  # the last line was cut off mid-write
        dropped = 1
    bad = [i + 2 for i, r in enumerate(body) if len(r) != len(columns)]
    if bad:
        raise TableError(f"{path}: line {bad[0]} has the wrong number of cells")
    try:
        table = np.fromiter(map(float, (cell or "nan" for row in body for cell in row)), np.float64,
                            len(body) * len(columns))
    except ValueError:
        for i, row in enumerate(body):
            for name, cell in zip(columns, row):
                try:
                    float(cell or "nan")
                except ValueError:
                    raise TableError(f"{path}: line {i + 2}, column '{name}': {cell[:40]!r} is not a number; the "
                                     f"file was edited or damaged — restore it from a copy or fix that cell") from None
        raise
    return table.reshape(len(body), len(columns)), dropped
