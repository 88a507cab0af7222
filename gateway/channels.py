"""One grpc.aio channel per fronted backend, opened on first use.

Channels are opened lazily because a grpc.aio channel belongs to the event loop that is
running when it is created, and the app may be built before any loop runs (tests build it
in a fixture, uvicorn builds it before serving).
"""

from __future__ import annotations

import grpc


class Channels:
    def __init__(self, addresses: dict[str, str]):
        self._addresses = dict(addresses)
        self._open: dict[str, grpc.aio.Channel] = {}

    @property
    def names(self) -> list[str]:
        return list(self._addresses)

    def get(self, backend: str) -> grpc.aio.Channel:
        channel = self._open.get(backend)
        if channel is None:
            channel = grpc.aio.insecure_channel(self._addresses[backend])
            self._open[backend] = channel
        return channel

    async def close(self) -> None:
        open_channels, self._open = self._open, {}
        for channel in open_channels.values():
            await channel.close()
