"""SQL only (SQLAlchemy Core over the unit of work's connection): rows and dataclasses in
and out, no rule decisions, no protobuf."""
