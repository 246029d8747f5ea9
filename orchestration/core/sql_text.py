"""Values spliced into SQL text (file paths, names) where DuckDB takes no bound parameter."""

from __future__ import annotations

import os


def sql_literal(value: object) -> str:
    """A single-quoted SQL string literal: `o'hare.jsonl` becomes `'o''hare.jsonl'`."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    return "'" + text.replace("'", "''") + "'"
