"""Resource names in their bare and full forms (`paris` and `stores/paris`).

The service's tables hold bare ids; the API and the events speak in resource names.
"""

from __future__ import annotations


def bare(name: str, collection: str) -> str:
    """`stores/paris` → `paris`; a value without the prefix is returned as it is."""
    prefix = collection + "/"
    return name[len(prefix) :] if name.startswith(prefix) else name


def prefixed(collection: str, value: str | None) -> str:
    """`paris` → `stores/paris`; nobody ('' or None) stays ''."""
    return f"{collection}/{value}" if value else ""
