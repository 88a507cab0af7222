"""The page a list asks for is servicekit.paging.Page; this name stays for the use cases
still importing it from here (usecases/privacy.py)."""

from __future__ import annotations

from servicekit.paging import Page

__all__ = ["Page"]
