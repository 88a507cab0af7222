"""Durable event consumers: each module has EVENT_TYPES and `handle(uow, envelope)`, which
unpacks the payload and calls a use case."""
