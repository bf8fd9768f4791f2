"""``bench/RESULTS.md`` is written section by section: each benchmark owns one ``## `` section."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(path: Path, body: str) -> None:
    """Put ``body``, whose first line is its ``## `` heading, into the Markdown file ``path``:
    it replaces the section with that heading (up to the next ``## ``), else it is appended.
    Every other section is kept as it is; a missing file starts as ``# Benchmark results``."""
    heading = body.split("\n", 1)[0]
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    body = body.rstrip("\n") + "\n"
    if pattern.search(text):
        text = pattern.sub(lambda m: body + ("\n" if m.end() < len(text) else ""), text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text)
