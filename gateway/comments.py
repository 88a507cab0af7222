"""Proto comments for the OpenAPI document and /docs.

The runtime descriptor pool carries no source info, so comments come from a
FileDescriptorSet built with `--include_source_info`:

1. ATELIER_DESCRIPTOR_SET, when set (e.g. written by `python scripts/protos.py image OUT`
   at image build time); an unreadable file is a configuration error;
2. otherwise, in a source checkout that has protos/ and grpc-tools (development), the
   protos are compiled once per process;
3. otherwise there are no comments, and descriptions fall back to field behaviours.

Keys are full proto names: `pkg.Message`, `pkg.Message.field`, `pkg.Enum`,
`pkg.Enum.VALUE` (scoped by the enum, unlike proto's own scoping), `pkg.Service`,
`pkg.Service.Method`.
"""

from __future__ import annotations

import functools
import logging
import sysconfig
import tempfile
from pathlib import Path
from typing import TypeAlias

from google.protobuf import descriptor_pb2

from servicekit.config import ConfigError

log = logging.getLogger(__name__)

_PROTOS = Path(__file__).resolve().parent.parent / "protos"

# Field numbers in descriptor.proto, as used in SourceCodeInfo.Location.path.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM = 2, 3, 4
_ENUM_VALUE = 2
_SERVICE_METHOD = 2


def load_comments(descriptor_set: str = "") -> dict[str, str]:
    if descriptor_set:
        try:
            data = Path(descriptor_set).read_bytes()
            return comments_from_set(descriptor_pb2.FileDescriptorSet.FromString(data))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"ATELIER_DESCRIPTOR_SET {descriptor_set!r} is not a readable descriptor set: {exc}"
            ) from None
    return dict(_comments_from_checkout())


@functools.lru_cache(maxsize=1)
def _comments_from_checkout() -> tuple[tuple[str, str], ...]:
    if not _PROTOS.is_dir():
        return ()
    try:
        # grpc-tools ships no type stubs; only protoc.main(argv) -> int is used.
        import grpc_tools  # type: ignore[import-untyped]
        from grpc_tools import protoc
    except ImportError:
        return ()
    files = sorted(str(p.relative_to(_PROTOS)) for p in _PROTOS.rglob("*.proto"))
    includes = [
        str(_PROTOS),
        sysconfig.get_paths()["purelib"],
        str(Path(grpc_tools.__file__).parent / "_proto"),
    ]
    with tempfile.TemporaryDirectory(prefix="atelier-gateway-") as tmp:
        out = Path(tmp) / "set.binpb"
        argv = [
            "protoc",
            *(f"-I{d}" for d in includes),
            f"--descriptor_set_out={out}",
            "--include_source_info",
            *files,
        ]
        if protoc.main(argv) != 0 or not out.exists():
            log.warning("gateway: could not compile %s for comments; the API docs will have none", _PROTOS)
            return ()
        found = comments_from_set(descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()))
    return tuple(found.items())


def comments_from_set(fds: descriptor_pb2.FileDescriptorSet) -> dict[str, str]:
    comments: dict[str, str] = {}
    for file in fds.file:
        by_path = {tuple(loc.path): _clean(loc.leading_comments) for loc in file.source_code_info.location}
        prefix = f"{file.package}." if file.package else ""
        for i, m in enumerate(file.message_type):
            _message(comments, by_path, m, (_FILE_MESSAGE, i), prefix)
        for i, e in enumerate(file.enum_type):
            _enum(comments, by_path, e, (_FILE_ENUM, i), prefix)
        for i, s in enumerate(file.service):
            service = prefix + s.name
            _put(comments, service, by_path.get((_FILE_SERVICE, i)))
            for j, method in enumerate(s.method):
                _put(comments, f"{service}.{method.name}", by_path.get((_FILE_SERVICE, i, _SERVICE_METHOD, j)))
    return comments


_ByPath: TypeAlias = dict[tuple[int, ...], str]


def _message(
    comments: dict[str, str], by_path: _ByPath, m: descriptor_pb2.DescriptorProto, path: tuple[int, ...], scope: str
) -> None:
    name = scope + m.name
    _put(comments, name, by_path.get(path))
    for i, f in enumerate(m.field):
        _put(comments, f"{name}.{f.name}", by_path.get(path + (_MESSAGE_FIELD, i)))
    for i, nested in enumerate(m.nested_type):
        _message(comments, by_path, nested, path + (_MESSAGE_NESTED, i), name + ".")
    for i, e in enumerate(m.enum_type):
        _enum(comments, by_path, e, path + (_MESSAGE_ENUM, i), name + ".")


def _enum(
    comments: dict[str, str],
    by_path: _ByPath,
    e: descriptor_pb2.EnumDescriptorProto,
    path: tuple[int, ...],
    scope: str,
) -> None:
    name = scope + e.name
    _put(comments, name, by_path.get(path))
    for i, value in enumerate(e.value):
        _put(comments, f"{name}.{value.name}", by_path.get(path + (_ENUM_VALUE, i)))


def _put(comments: dict[str, str], name: str, comment: str | None) -> None:
    if comment:
        comments[name] = comment


def _clean(comment: str) -> str:
    lines = [line.strip() for line in comment.strip().splitlines()]
    # Paragraphs survive; the line wrapping of the .proto file does not.
    paragraphs, current = [], []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)
