"""What makes a note acceptable. Pure, no I/O."""

from __future__ import annotations

from servicekit.errors import Violations

MAX_NOTE = 4000


def read_text(raw: str, violations: Violations) -> str:
    text = raw.strip()
    violations.require(0 < len(text) <= MAX_NOTE, "note.text", f"required, at most {MAX_NOTE} characters")
    return text
