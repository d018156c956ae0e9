"""The one error type users see: a single line naming where the problem is and what was expected."""

from __future__ import annotations

from pathlib import Path


class SidkitError(Exception):
    """Bad input or an impossible request. The CLI prints it as one line and exits non-zero."""


class SidkitWarning(UserWarning):
    """Input that works but is probably not what was meant. The CLI prints it as one line on stderr."""


def input_error(
    source: str | Path,
    expected: str,
    *,
    row: int | None = None,
    field: str | None = None,
) -> SidkitError:
    """Build the standard message: ``FILE: data row N: field 'F': expected ...``.

    Rows are 1-based data rows (the header of a CSV is not counted, so data row N is line N + 1 of a
    CSV with a header); "data row" says so in the message itself.
    """
    parts = [str(source)]
    if row is not None:
        parts.append(f"data row {row}")
    if field is not None:
        parts.append(f"field '{field}'")
    parts.append(expected)
    return SidkitError(": ".join(parts))
