"""ImportCustomers: bad rows reported without stopping, batches applied once, contact
points deduplicated (against existing customers and within the import), events out."""

from __future__ import annotations

import asyncio

import grpc

from atelier.events.v1 import customer_events_pb2 as ev
from tests.conftest import associate, manager
from tests.customer.support import (
    Kind,
    bad_request,
    create,
    email,
    error_info,
    get,
    import_batches,
    known_store,
    list_store,
    outbox_events,
    row,
    rpc_error,
    uid,
    unique_email,
    unique_phone,
)


async def test_bad_rows_are_reported_and_a_resent_batch_changes_nothing(customer_stub, customer_service):
    store = await known_store(customer_service)
    import_id = f"imp-{uid()}"
    taken = (await create(customer_stub, home_store=store, customer_id=f"legacy-{uid()}")).name.split("/")[1]
    good = [
        row(i, given_name=f"Ada{i}", home_store=store, contacts=[(Kind.CONTACT_KIND_EMAIL, unique_email()[0])])
        for i in range(1, 6)
    ]
    bad = [
        row(6, given_name="Bad", home_store=store, contacts=[(Kind.CONTACT_KIND_EMAIL, "not-an-email")]),
        row(7, home_store=store),  # no name
        row(8, given_name="Store", home_store="paris"),
        row(9, given_name="Id", home_store=store, customer_id="X!"),
        row(10, given_name="Taken", home_store=store, customer_id=taken),
    ]
    batches = [("b1", good[:3]), ("b2", good[3:] + bad)]

    first = await import_batches(customer_stub, import_id, batches)
    assert (first.accepted, first.merged, first.rejected) == (5, 0, 5)
    assert (first.batches_applied, first.batches_skipped) == (2, 0)
    reasons = {r.row_number: [v.field for v in r.field_violations] for r in first.rejected_rows}
    assert reasons == {
        6: ["customer.contact_points[0].value"],
        7: ["customer.given_name"],
        8: ["customer.home_store"],
        9: ["customer_id"],
        10: ["customer_id"],
    }
    assert all(r.batch_id == "b2" for r in first.rejected_rows)
    names = sorted(c.given_name for c in await list_store(customer_stub, store))
    assert names == ["Ada1", "Ada2", "Ada3", "Ada4", "Ada5", "Hélène"]

    # The client lost the answer and sends everything again, plus one more batch.
    extra = [row(11, given_name="Ada11", home_store=store)]
    again = await import_batches(customer_stub, import_id, [*batches, ("b3", extra)])
    assert (again.batches_applied, again.batches_skipped) == (1, 2)
    assert (again.accepted, again.merged, again.rejected) == (6, 0, 5)
    assert sorted(r.row_number for r in again.rejected_rows) == [6, 7, 8, 9, 10]
    assert len(await list_store(customer_stub, store)) == 7

    created = [
        ev.CustomerCreated.FromString(e.payload.value).customer
        for e in await outbox_events(customer_service, "atelier.customer.created")
    ]
    imported = [c for c in created if c.home_store == store and c.given_name.startswith("Ada")]
    assert sorted(c.given_name for c in imported) == ["Ada1", "Ada11", "Ada2", "Ada3", "Ada4", "Ada5"]


async def test_rows_sharing_a_contact_point_merge(customer_service, customer_stub):
    store = await known_store(customer_service)
    typed_email, norm_email = unique_email()
    existing = await create(
        customer_stub,
        home_store=store,
        given_name="",
        family_name="Laurent",
        contact_points=[email(typed_email)],
        tags=["press"],
    )
    national, e164 = unique_phone()
    _, other_email = unique_email()
    whatsapp = unique_phone("CN", "138")[1]
    rows = [
        # Same e-mail (other spelling) as the existing customer: merged into her.
        row(
            1,
            given_name="Hélène",
            home_store=store,
            tags=["vip-list", "press"],
            contacts=[(Kind.CONTACT_KIND_EMAIL, norm_email.upper()), (Kind.CONTACT_KIND_PHONE, national)],
        ),
        # Two new rows sharing a WhatsApp number: one new customer.
        row(2, given_name="Mei", home_store=store, contacts=[(Kind.CONTACT_KIND_WHATSAPP, whatsapp)]),
        row(
            3,
            family_name="Wang",
            home_store=store,
            contacts=[(Kind.CONTACT_KIND_WHATSAPP, whatsapp), (Kind.CONTACT_KIND_EMAIL, other_email)],
        ),
    ]
    reply = await import_batches(customer_stub, f"imp-{uid()}", [("only", rows)])
    assert (reply.accepted, reply.merged, reply.rejected) == (1, 2, 0), reply

    merged = await get(customer_stub, existing.name)
    assert merged.given_name == "Hélène" and merged.family_name == "Laurent"
    assert [(c.kind, c.value) for c in merged.contact_points] == [
        (Kind.CONTACT_KIND_EMAIL, norm_email),
        (Kind.CONTACT_KIND_PHONE, e164),
    ]
    assert list(merged.tags) == ["press", "vip-list"]
    assert merged.etag != existing.etag

    customers = await list_store(customer_stub, store)
    assert len(customers) == 2
    mei = next(c for c in customers if c.name != existing.name)
    assert (mei.given_name, mei.family_name) == ("Mei", "Wang")
    assert {c.kind for c in mei.contact_points} == {Kind.CONTACT_KIND_WHATSAPP, Kind.CONTACT_KIND_EMAIL}


async def test_only_headquarters_and_services_import(customer_service, customer_stub):
    store = await known_store(customer_service)
    for principal in (associate(store), manager(store)):
        exc = await rpc_error(
            import_batches(
                customer_stub, f"imp-{uid()}", [("b", [row(1, given_name="X", home_store=store)])], principal
            )
        )
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(exc).reason == "ROLE_DENIED"
    assert await list_store(customer_stub, store) == []


async def test_malformed_batch_ids_are_refused(customer_stub):
    exc = await rpc_error(import_batches(customer_stub, "bad id!", [("", [])]))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = sorted(v.field for v in bad_request(exc).field_violations)
    assert fields == ["batch_id", "import_id"]


async def test_cli_import_csv_is_resumable(customer_service, customer_stub, tmp_path, monkeypatch, capsys):
    from atelierctl.main import main
    from tests.conftest import INTERNAL_SECRET

    store = await known_store(customer_service)
    _, mail = unique_email()
    national, _ = unique_phone()
    lines = ["given_name,family_name,locale,home_store,tier,email,phone,tags,preferences,birthday"]
    lines.append(f"Claire,Dubois,fr-FR,{store},VIP,{mail},{national},press;vip-list,ring_size=52,1980-05-17")
    lines.append(f"Jean,,fr-FR,{store},,not-an-email,,,,")
    lines.extend(f"Client{i},Import,fr-FR,{store},CLIENT,,,,,{(i % 12) + 1:02d}-10" for i in range(30))
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("ATELIER_INTERNAL_SECRET", INTERNAL_SECRET)
    args = [
        "import",
        str(path),
        "--address",
        customer_service.address,
        "--state-dir",
        str(tmp_path / "state"),
        "--batch-size",
        "7",
    ]
    # The CLI is synchronous; it runs in a thread so the service on this loop can answer.
    assert await asyncio.to_thread(main, args) == 0
    out = capsys.readouterr()
    assert "accepted 31, merged into existing customers 0, rejected 1" in out.out
    assert "row 2: customer.contact_points[0].value" in out.out
    assert "100.0%" in out.err
    customers = await list_store(customer_stub, store)
    assert len(customers) == 31
    claire = next(c for c in customers if c.given_name == "Claire")
    assert claire.tier == 3 and list(claire.tags) == ["press", "vip-list"]
    assert claire.preferences[0].value == "52" and claire.important_dates[0].date.month == 5

    assert await asyncio.to_thread(main, [*args, "--quiet"]) == 0
    assert "batches applied 0, already applied before 5" in capsys.readouterr().out
    assert len(await list_store(customer_stub, store)) == 31
