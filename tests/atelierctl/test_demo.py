"""`atelier up --demo` builds a living maison, prints how to sign in as each role, stays
quiet while it loads, and the README's tour works on it verbatim (issue 8 items 31-34).

One real mesh for the module; the tour runs last because it changes the demo (an
associate departs)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from atelierctl import demo
from atelierctl.embedded import free_port
from tests.atelierctl.support import REPO, Up, clean_env, client, needs_mesh, path_without_venv, token

pytestmark = [pytest.mark.slow, needs_mesh]
DEMO_COUNT = 30
TOUR_HEADING = "### A tour:"
README_GATEWAY = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    state_dir = tmp_path_factory.mktemp("demo") / "state"
    with Up("--demo", "--demo-count", str(DEMO_COUNT), "--gateway-port", str(free_port()), state_dir=state_dir) as up:
        up.wait_ready()
        up.wait_for(r"--demo: a guided tour", 600)
        yield up


def _local_date_today(zone: str) -> str:
    return datetime.now(ZoneInfo(zone)).date().isoformat()


def _local_date(timestamp: str, zone: str) -> str:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).date().isoformat()


def test_demo_builds_a_living_maison_through_the_api(mesh: Up) -> None:
    assert not any(re.search(r"\| (warning:|error:|WARNING|ERROR)", line) for line in mesh.lines), mesh.tail()
    hq = token(mesh.state_dir, "hq")
    reasons: set[str] = set()
    with client(mesh.url, hq) as api:
        stores = {s["name"]: s for s in api.get("/v1/stores").json()["stores"]}
        assert {stores[s.name]["timeZone"] for s in demo.STORES} == {
            "Europe/Paris",
            "Asia/Shanghai",
            "America/New_York",
        }
        for store in demo.STORES:
            assert stores[store.name]["weeklyHours"], f"{store.city} has opening hours"
        assert api.get("/v1/customers:unassigned").json().get("assignments"), "online-only customers wait in the pool"

    for store in demo.STORES:
        manager = token(mesh.state_dir, "manager", store.name, store.manager.id)
        with client(mesh.url, manager) as api:
            staff = api.get("/v1/associates", params={"filter": f'store = "{store.name}"'}).json()["associates"]
            roles = sorted(a["role"] for a in staff)
            assert roles.count("STAFF_ROLE_MANAGER") == 1 and roles.count("STAFF_ROLE_ASSOCIATE") >= 3, roles
            assert all(a["referralCode"] for a in staff)

            book = api.get(f"/v1/{store.name}/book", params={"page_size": "200"}).json().get("entries", [])
            assert book, f"{store.city} has customers in its book"
            for entry in book:
                reasons.add(api.get(f"/v1/{entry['customer']}/assignment").json()["reason"])

            tasks = api.get("/v1/tasks", params={"view": "TASK_VIEW_STORE", "page_size": "200"}).json()["tasks"]
            today = _local_date_today(store.time_zone)
            due_today = [t for t in tasks if _local_date(t["dueTime"], store.time_zone) == today]
            assert due_today, f"{store.city}: no task due today among {len(tasks)}"

    assert {"ASSIGNMENT_REASON_REFERRAL", "ASSIGNMENT_REASON_STORE_RULE"} <= reasons, reasons

    # A customer's life: purchases, visits, notes and consents, read as her associate.
    paris = demo.STORES[0]
    found = {"purchase": False, "visit": False, "note": False, "consent": False}
    with client(mesh.url, token(mesh.state_dir, "manager", paris.name, paris.manager.id)) as api:
        entries = api.get(f"/v1/{paris.name}/book", params={"page_size": "200"}).json()["entries"]
        for entry in entries:
            name = entry["customer"]
            timeline = api.get(f"/v1/{name}/timeline", params={"page_size": "100"}).json()
            text = str(timeline)
            found["purchase"] |= "purchase" in text.lower()
            found["visit"] |= "INTERACTION_KIND_STORE_VISIT" in text
            found["note"] |= bool(api.get(f"/v1/{name}/notes").json().get("notes"))
            found["consent"] |= bool(api.get(f"/v1/{name}").json().get("consents"))
            if all(found.values()):
                break
    assert all(found.values()), found


def test_up_prints_sign_in_commands_for_each_role_that_work_as_printed(mesh: Up) -> None:
    printed = [m for line in mesh.lines if (m := re.search(r"^\S+\s+\|\s+(\S.*?)\s{2,}(TOKEN=\$\(.+\))$", line))]
    labels = {m.group(1) for m in printed}
    for label, *_ in demo.sign_in_roles():
        assert label in labels, f"no sign-in line for {label}:\n{mesh.tail()}"
    for match in printed:
        label, command = match.group(1), match.group(2)
        shell = subprocess.run(
            ["bash", "-c", f'{command} && printf %s "$TOKEN"'],
            cwd=REPO, env=clean_env(PATH=path_without_venv()), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert shell.returncode == 0, f"{label}: {shell.stderr}"
        with client(mesh.url, shell.stdout) as api:
            if "associate" in label:
                reply = api.get("/v1/tasks", params={"view": "TASK_VIEW_MINE"})
                assert reply.status_code == 200 and reply.json().get("tasks"), f"{label}: {reply.text[:300]}"
            else:
                reply = api.get("/v1/associates")
                assert reply.status_code == 200, f"{label}: {reply.text[:300]}"


def test_terminal_stays_quiet_while_the_demo_loads(mesh: Up) -> None:
    gateway_log = (mesh.state_dir / "logs" / "gateway.log").read_text().splitlines()
    assert len(gateway_log) > 10 * DEMO_COUNT, "every request is in the gateway's log file"
    assert len(mesh.lines) < 60, "\n".join(mesh.lines)
    assert not any('"level"' in line or "HTTP/1.1" in line for line in mesh.lines)


def _tour() -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index(TOUR_HEADING)
    block = re.search(r"```sh\n(.*?)```", readme[start:], re.S)
    assert block, "the tour's shell block"
    return block.group(1)


def test_readme_tour_runs_verbatim_on_the_demo(mesh: Up, tmp_path: Path) -> None:
    """The README's tour, as written, against this mesh: only the gateway's address differs
    (the README's is the default port); `atelier token` finds this mesh's state dir
    through ATELIER_STATE_DIR."""
    tour = _tour()
    assert README_GATEWAY in tour
    script = tmp_path / "tour.sh"
    script.write_text(tour.replace(README_GATEWAY, mesh.url))
    result = subprocess.run(
        ["bash", "-e", str(script)],
        cwd=REPO, env=clean_env(PATH=path_without_venv(), ATELIER_STATE_DIR=str(mesh.state_dir)),
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    output = result.stdout
    assert result.returncode == 0, f"{result.stderr}\n{output[-3000:]}"
    assert '"error"' not in output, output[-3000:]
    for step in (
        '"timeZone": "Europe/Paris"',  # 1. the store
        '"name": "associates/paris-louis"',  # 2. its associates
        '"reason": "ASSIGNMENT_REASON_REFERRAL"',  # 3. QR referral
        '"orderId": "PAR-01-',  # 4. the purchase
        '"kind": "TASK_KIND_FOLLOW_UP_PURCHASE"',  # 5. its follow-up
        '"name": "handOvers/',  # 6. the hand-over
        '"reason": "ASSIGNMENT_REASON_HAND_OVER"',
    ):
        assert step in output, f"{step} missing from the tour's output:\n{output[-3000:]}"
