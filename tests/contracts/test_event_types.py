"""Event types have one home: every constant of servicekit.event_types is a subject
documented in the event protos (protos/atelier/events/v1), its payload is the message
documented there, and no service writes an event type as a string literal."""

from __future__ import annotations

import re
from pathlib import Path

from servicekit import event_types

ROOT = Path(__file__).resolve().parents[2]
EVENT_PROTOS = ROOT / "protos" / "atelier" / "events" / "v1"
PACKAGE = "atelier.events.v1"

# `// Subject `atelier.customer.created`...` or
# `// Subjects `atelier.associate.task_created` / `task_updated` ...`: the second name
# (and later ones) may leave out the `atelier.<area>.` of the first.
_SUBJECTS = re.compile(r"Subjects?\s+(`[^`]+`(?:\s*/\s*`[^`]+`)*)")
_NAME = re.compile(r"`([^`]+)`")
_MESSAGE = re.compile(r"^message\s+(\w+)\s*\{")
_EVENT_TYPE = re.compile(r"^atelier\.[a-z_]+\.[a-z_]+$")


def documented_subjects() -> dict[str, str]:
    """Event type → full name of the message whose comment documents it."""
    found: dict[str, str] = {}
    for proto in sorted(EVENT_PROTOS.glob("*.proto")):
        comment: list[str] = []
        for line in proto.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("//"):
                comment.append(stripped[2:].strip())
                continue
            message = _MESSAGE.match(stripped)
            if message:
                for names in _SUBJECTS.findall(" ".join(comment)):
                    first, *more = _NAME.findall(names)
                    area = first.rsplit(".", 1)[0]
                    for name in (first, *(n if "." in n else f"{area}.{n}" for n in more)):
                        assert name not in found, f"{name} is documented twice ({found[name]} and {message[1]})"
                        found[name] = f"{PACKAGE}.{message[1]}"
            comment = []
    return found


def constants() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(event_types).items()
        if name.isupper() and isinstance(value, str) and value.startswith("atelier.")
    }


def test_the_proto_comments_are_read():
    subjects = documented_subjects()
    assert subjects["atelier.customer.created"] == f"{PACKAGE}.CustomerCreated"
    assert subjects["atelier.associate.task_updated"] == f"{PACKAGE}.TaskChanged"  # second name of a pair


def test_every_event_type_constant_is_a_documented_subject():
    subjects = documented_subjects()
    pending = set(event_types.AWAITING_CONTRACT)
    for name, value in constants().items():
        assert _EVENT_TYPE.match(value), f"event_types.{name} = {value!r} is not atelier.<area>.<event>"
        if value in pending:
            assert value not in subjects, f"{value} is documented now: take it out of AWAITING_CONTRACT"
            assert value not in event_types.PAYLOADS, f"{value} awaits its contract yet has a payload"
            continue
        assert value in subjects, f"event_types.{name} ({value}) is not documented as a Subject in {EVENT_PROTOS}"
    assert pending <= set(constants().values())


def test_every_documented_subject_has_a_constant():
    assert set(documented_subjects()) - set(constants().values()) == set()


def test_each_payload_is_the_message_documented_for_its_subject():
    subjects = documented_subjects()
    for event_type, payload in event_types.PAYLOADS.items():
        assert payload.DESCRIPTOR.file.package == PACKAGE, f"{payload.DESCRIPTOR.full_name} is not an event message"
        assert payload.DESCRIPTOR.full_name == subjects.get(event_type), (
            f"{event_type} carries {payload.DESCRIPTOR.full_name}, the protos document {subjects.get(event_type)}"
        )
    missing = set(constants().values()) - set(event_types.PAYLOADS) - set(event_types.AWAITING_CONTRACT)
    assert missing == set(), f"event types without a payload class in PAYLOADS: {sorted(missing)}"


# A quoted `atelier.<area>.<event>` (two segments: not a package like
# `atelier.customer.v1`), unless it names a logger (`getLogger("atelier.associate.sweep")`).
_LITERAL = re.compile(r"""(?<!getLogger\()(?<!logger\()(?<![\w.])["']atelier\.[a-z_]+\.[a-z_]+["']""")


def test_no_event_type_literal_in_the_services():
    offenders = []
    for source in sorted((ROOT / "services").rglob("*.py")):
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if _LITERAL.search(line):
                offenders.append(f"{source.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "use servicekit.event_types instead of:\n" + "\n".join(offenders)


def test_the_literal_pattern_finds_event_types_and_nothing_else():
    assert _LITERAL.search("""emit("atelier.customer.created")""")
    assert _LITERAL.search("""TYPES = {'atelier.associate.task_updated'}""")
    assert not _LITERAL.search("""log = logging.getLogger("atelier.associate.sweep")""")
    assert not _LITERAL.search("""log = telemetry.logger("atelier.associate.sweep")""")
    assert not _LITERAL.search('SERVICE = "atelier.customer.v1.CustomerService"')
