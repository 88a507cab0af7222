"""AssociateService over gRPC, assembled from one mixin per capability (rpc/)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.associate.v1 import associate_service_pb2, associate_service_pb2_grpc

from .rpc.assignment import AssignmentRpcs
from .rpc.book import BookRpcs
from .rpc.directory import DirectoryRpcs
from .rpc.handover import HandOverRpcs

SERVICE_NAME = associate_service_pb2.DESCRIPTOR.services_by_name["AssociateService"].full_name


class AssociateServicer(
    DirectoryRpcs, AssignmentRpcs, HandOverRpcs, BookRpcs, associate_service_pb2_grpc.AssociateServiceServicer
):
    def __init__(self, engine: AsyncEngine, *, chunk_size: int | None = None):
        self._engine = engine
        if chunk_size:
            self._chunk_size = chunk_size
