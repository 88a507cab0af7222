"""Atelier's HTTP/JSON edge: transcodes `google.api.http` routes to the gRPC services.

Run with `python -m gateway`; build in-process with `create_app(Settings(...))`.
"""

from gateway.app import create_app
from gateway.settings import Settings

__all__ = ["Settings", "create_app"]
