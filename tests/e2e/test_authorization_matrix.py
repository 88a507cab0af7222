"""The authorisation matrix (issue 8, section 1): every route of the gateway × every kind of
caller, over real HTTP against the real services.

The routes come from the gateway's own route table (gateway.transcode.build_operations over
the descriptors of the services it fronts), so a route added to a proto without an entry
in EXPECTATIONS fails `test_every_route_has_expectations`.

The policy (docs/architecture.md "Identity and access", the audit's findings):
- an associate reaches only the customers she holds (primary or secondary): her profile,
  notes, consent, purchases, timeline, tasks; she never deletes, erases, exports, merges,
  imports or transfers;
- a manager reaches everything of her store and nothing of another store's;
- headquarters reaches everything; without a token the answer is 401;
- a departed associate can do nothing (403 everywhere, item 7);
- a caller who may not reach something gets 403, and the same 403 when it does not exist
  (no existence oracle: `test_missing_ids_answer_as_out_of_reach`); headquarters learns 404;
- a list answered with 200 never names what the caller may not reach (the leak check).

Each row says which kinds of caller succeed (2xx); every other kind is denied with 403,
anonymous callers get 401. Cells that fail today are the audit's open holes, marked
`xfail(strict=True)` in HOLES with their item: a fix turns them green and the suite red
until the mark goes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.mesh import (
    ANONYMOUS,
    CALLER_KINDS,
    DEPARTED,
    HOLDER,
    HQ,
    OTHER_STORE_ASSOCIATE,
    OTHER_STORE_MANAGER,
    SAME_STORE_ASSOCIATE,
    SAME_STORE_MANAGER,
    Caller,
    Mesh,
    SetupError,
    World,
    call,
    expand,
    gateway_routes,
    gather_bounded,
    missing_like,
    now_plus,
    uid,
)

Subject = dict[str, str]

STAFF = frozenset({HOLDER, SAME_STORE_ASSOCIATE, OTHER_STORE_ASSOCIATE, SAME_STORE_MANAGER, OTHER_STORE_MANAGER, HQ})
# Who reaches customer X (of store S1, held by the holder).
READERS = frozenset({HOLDER, SAME_STORE_MANAGER, HQ})
S1_STAFF = frozenset({HOLDER, SAME_STORE_ASSOCIATE, SAME_STORE_MANAGER})
MANAGEMENT = frozenset({SAME_STORE_MANAGER, HQ})
MANAGERS = frozenset({SAME_STORE_MANAGER, OTHER_STORE_MANAGER, HQ})
HEADQUARTERS = frozenset({HQ})


@dataclass(frozen=True)
class Call:
    path: dict[str, str]
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Rule:
    rpc: str
    # The kinds of caller answered with a 2xx; every other staff caller gets `denial`.
    allowed: frozenset[str]
    request: Callable[[Subject, Caller], Call]
    # Fresh resources for each cell (writes that change or remove what they act on).
    fresh: Callable[[World, Caller], Awaitable[Subject]] | None = None
    # Subject keys replaced by names of nothing for the missing-id probe (none: no probe).
    missing: tuple[str, ...] = ()
    # The target is a directory entry whose existence every member of staff may learn
    # (stores, associates): a missing one may answer 404 as well as 403.
    public: bool = False
    # A subject key whose value must not appear in a 2xx answer to a caller outside `may_see`.
    secret: str = ""
    may_see: frozenset[str] = READERS
    denial: int = 403


def rid() -> str:
    return str(uuid.uuid4())


def purchase_body(store: str) -> dict[str, Any]:
    return {
        "channel": "SALES_CHANNEL_STORE",
        "orderId": f"m-{uid()}",
        "store": store,
        "lines": [
            {"lineId": "l1", "sku": "SCARF-2", "quantity": 1, "unitPrice": {"currencyCode": "EUR", "units": "450"}}
        ],
        "orderTime": now_plus(minutes=-30),
    }


# -- fresh resources per cell ------------------------------------------------------------


async def held_customer(world: World, caller: Caller) -> Subject:
    return {"customer": (await world.held_customer(world.holder))["name"]}


async def held_pair(world: World, caller: Caller) -> Subject:
    survivor = await world.held_customer(world.holder)
    duplicate = await world.held_customer(world.holder)
    return {"customer": survivor["name"], "other": duplicate["name"]}


async def merge(world: World, caller: Caller) -> Subject:
    return {"merge": await world.fresh_merge()}


async def purchase(world: World, caller: Caller) -> Subject:
    return {"purchase": (await world.purchase(world.shared["customer"], world.s1))["name"]}


async def task(world: World, caller: Caller) -> Subject:
    return {"task": await world.task(world.shared["customer"], world.holder)}


async def attribution(world: World, caller: Caller) -> Subject:
    return {"attribution": (await world.attributed_purchase(world.shared["customer"], world.holder))[1]}


async def leaver(world: World, caller: Caller) -> Subject:
    return {"leaver": (await world.create_staff(world.s1, label="leaver")).name}


async def claim(world: World, caller: Caller) -> Subject:
    """A pending claim by an associate of the caller's store (S1's for headquarters) on a
    fresh pool customer of S1. Should such a claim be refused when it is made, the cell
    decides on a claim that does not exist: the same answer is due."""
    claimant = world.member(caller.colleague)
    pooled = await world.pool_customer(world.s1)
    made = await world.claim(claimant, pooled["name"])
    if 400 <= made.status_code < 500:
        return {"claim": missing_like("claims/x")}
    if not made.is_success:
        raise SetupError(f"the claim of {claimant.name}: {made.status_code} {made.text[:300]}")
    return {"claim": made.json()["name"]}


def assignment_of(subject: Subject) -> str:
    return f"{subject['customer']}/assignment"


# -- the expectations: one row per route ------------------------------------------------------

EXPECTATIONS: dict[str, Rule] = {
    # CustomerService
    "GET /v1/{name=customers/*}": Rule(
        "GetCustomer", READERS, lambda s, c: Call({"name": s["customer"]}), missing=("customer",)
    ),
    "GET /v1/customers": Rule("ListCustomers", STAFF, lambda s, c: Call({}, {"pageSize": 200}), secret="customer"),
    "POST /v1/customers": Rule(
        "CreateCustomer",
        S1_STAFF | HEADQUARTERS,
        lambda s, c: Call(
            {}, {"requestId": rid()}, {"givenName": "Rin", "familyName": f"Sato{uid()}", "homeStore": s["store"]}
        ),
    ),
    "PATCH /v1/{customer.name=customers/*}": Rule(
        "UpdateCustomer",
        READERS,
        lambda s, c: Call({"customer.name": s["customer"]}, {"updateMask": "preferredName"}, {"preferredName": "Mei"}),
        missing=("customer",),
    ),
    "DELETE /v1/{name=customers/*}": Rule(
        "DeleteCustomer",
        MANAGEMENT,
        lambda s, c: Call({"name": s["customer"]}),
        fresh=held_customer,
        missing=("customer",),
    ),
    "GET /v1/customers:search": Rule(
        "SearchCustomers", STAFF, lambda s, c: Call({}, {"query": s["family_name"]}), secret="customer"
    ),
    "POST /v1/{name=customers/*}:grantConsent": Rule(
        "GrantConsent",
        READERS,
        lambda s, c: Call(
            {"name": s["customer"]}, body={"channel": "CHANNEL_SMS", "purpose": "PURPOSE_SERVICE", "source": "tablet"}
        ),
        missing=("customer",),
    ),
    "POST /v1/{name=customers/*}:withdrawConsent": Rule(
        "WithdrawConsent",
        READERS,
        lambda s, c: Call(
            {"name": s["customer"]}, body={"channel": "CHANNEL_SMS", "purpose": "PURPOSE_SERVICE", "source": "tablet"}
        ),
        missing=("customer",),
    ),
    "GET /v1/{parent=customers/*}/consentChanges": Rule(
        "ListConsentChanges", READERS, lambda s, c: Call({"parent": s["customer"]}), missing=("customer",)
    ),
    "POST /v1/{parent=customers/*}/notes": Rule(
        "CreateNote",
        READERS,
        lambda s, c: Call({"parent": s["customer"]}, {"requestId": rid()}, {"text": "Asked about the autumn line"}),
        missing=("customer",),
    ),
    "GET /v1/{parent=customers/*}/notes": Rule(
        "ListNotes", READERS, lambda s, c: Call({"parent": s["customer"]}), missing=("customer",)
    ),
    "GET /v1/customers:findDuplicates": Rule(
        "FindDuplicates", HEADQUARTERS, lambda s, c: Call({}, {"customer": s["customer"]})
    ),
    "POST /v1/{survivor=customers/*}:merge": Rule(
        "MergeCustomers",
        HEADQUARTERS,
        lambda s, c: Call({"survivor": s["customer"]}, body={"duplicate": s["other"], "requestId": rid()}),
        fresh=held_pair,
        missing=("customer", "other"),
    ),
    "POST /v1/{name=merges/*}:unmerge": Rule(
        "UnmergeCustomers",
        HEADQUARTERS,
        lambda s, c: Call({"name": s["merge"]}, body={}),
        fresh=merge,
        missing=("merge",),
    ),
    "GET /v1/{name=merges/*}": Rule(
        "GetMerge", HEADQUARTERS, lambda s, c: Call({"name": s["merge"]}), missing=("merge",)
    ),
    # PurchaseService
    "POST /v1/purchases:record": Rule(
        "RecordPurchase",
        READERS,
        lambda s, c: Call({}, body={"customer": s["customer"], "purchase": purchase_body(s["store"])}),
        missing=("customer",),
    ),
    "GET /v1/{name=customers/*/purchases/*}": Rule(
        "GetPurchase", READERS, lambda s, c: Call({"name": s["purchase"]}), missing=("purchase",)
    ),
    "GET /v1/{parent=customers/*}/purchases": Rule(
        "ListPurchases", READERS, lambda s, c: Call({"parent": s["customer"]}), missing=("customer",)
    ),
    "POST /v1/{name=customers/*/purchases/*}:recordReturn": Rule(
        "RecordReturn",
        READERS,
        lambda s, c: Call(
            {"name": s["purchase"]}, body={"returnId": f"r-{uid()}", "lines": [{"lineId": "l1", "quantity": 1}]}
        ),
        fresh=purchase,
        missing=("purchase",),
    ),
    # TimelineService
    "POST /v1/{parent=customers/*}/interactions": Rule(
        "RecordInteraction",
        READERS,
        lambda s, c: Call(
            {"parent": s["customer"]},
            body={
                "kind": "INTERACTION_KIND_STORE_VISIT",
                "occurTime": now_plus(minutes=-5),
                "externalId": f"v-{uid()}",
            },
        ),
        missing=("customer",),
    ),
    "GET /v1/{parent=customers/*}/timeline": Rule(
        "ListTimeline", READERS, lambda s, c: Call({"parent": s["customer"]}), missing=("customer",)
    ),
    # PrivacyService: export by her home store's manager and headquarters; erasure and the
    # audit trail by headquarters (services/customer/domain stewardship rules).
    "GET /v1/{name=customers/*}:export": Rule(
        "ExportCustomer", MANAGEMENT, lambda s, c: Call({"name": s["customer"]}), missing=("customer",)
    ),
    # AssociateService's part of an export (what it holds about her), asked by the customer
    # service with the caller's principal; the same people may read it.
    "GET /v1/{name=customers/*}:exportAssociateData": Rule(
        "ExportCustomerData", MANAGEMENT, lambda s, c: Call({"name": s["customer"]}), missing=("customer",)
    ),
    "POST /v1/{name=customers/*}:erase": Rule(
        "EraseCustomer",
        HEADQUARTERS,
        lambda s, c: Call({"name": s["customer"]}, body={"reason": "she asked to be forgotten (GDPR art. 17)"}),
        fresh=held_customer,
        missing=("customer",),
    ),
    "GET /v1/auditRecords": Rule("ListAuditRecords", HEADQUARTERS, lambda s, c: Call({}, {"customer": s["customer"]})),
    # AssociateService: the directory of stores and staff is open to every member of staff.
    "GET /v1/{name=stores/*}": Rule(
        "GetStore", STAFF, lambda s, c: Call({"name": s["store"]}), missing=("store",), public=True
    ),
    "GET /v1/stores": Rule("ListStores", STAFF, lambda s, c: Call({})),
    "POST /v1/stores": Rule(
        "CreateStore",
        HEADQUARTERS,
        lambda s, c: Call(
            {},
            {"storeId": f"s-new-{uid()}", "requestId": rid()},
            {"code": f"N-{uid()}", "displayName": "Omotesando", "timeZone": "Asia/Tokyo"},
        ),
    ),
    "PATCH /v1/{store.name=stores/*}": Rule(
        "UpdateStore",
        MANAGEMENT,
        lambda s, c: Call(
            {"store.name": s["store"]},
            {"updateMask": "weeklyHours"},
            {"weeklyHours": [{"day": "MONDAY", "openTime": {"hours": 10}, "closeTime": {"hours": 19}}]},
        ),
        missing=("store",),
        public=True,
    ),
    "GET /v1/{name=associates/*}": Rule(
        "GetAssociate", STAFF, lambda s, c: Call({"name": s["associate"]}), missing=("associate",), public=True
    ),
    "GET /v1/associates": Rule("ListAssociates", STAFF, lambda s, c: Call({})),
    "POST /v1/associates": Rule(
        "CreateAssociate",
        MANAGEMENT,
        lambda s, c: Call(
            {},
            {"associateId": f"n-{uid()}", "requestId": rid()},
            {"store": s["store"], "displayName": "Yui", "role": "STAFF_ROLE_ASSOCIATE"},
        ),
    ),
    # The holder is the associate concerned: she edits her own display name.
    "PATCH /v1/{associate.name=associates/*}": Rule(
        "UpdateAssociate",
        frozenset({HOLDER, SAME_STORE_MANAGER, HQ}),
        lambda s, c: Call({"associate.name": s["associate"]}, {"updateMask": "displayName"}, {"displayName": "Aiko"}),
        missing=("associate",),
        public=True,
    ),
    "POST /v1/{name=associates/*}:depart": Rule(
        "DepartAssociate",
        MANAGEMENT,
        lambda s, c: Call({"name": s["leaver"]}, body={}),
        fresh=leaver,
        missing=("leaver",),
        public=True,
    ),
    "GET /v1/{name=handOvers/*}": Rule(
        "GetHandOver", MANAGEMENT, lambda s, c: Call({"name": s["hand_over"]}), missing=("hand_over",)
    ),
    "GET /v1/{name=customers/*/assignment}": Rule(
        "GetCustomerAssignment", READERS, lambda s, c: Call({"name": assignment_of(s)}), missing=("customer",)
    ),
    "GET /v1/{parent=customers/*}/assignmentHistory": Rule(
        "ListAssignmentHistory", READERS, lambda s, c: Call({"parent": s["customer"]}), missing=("customer",)
    ),
    # The pool: a manager sees her store's (item 10), headquarters all of it.
    "GET /v1/customers:unassigned": Rule(
        "ListUnassigned",
        MANAGERS,
        lambda s, c: Call({}, {"pageSize": 200}),
        secret="pool_customer",
        may_see=MANAGEMENT,
    ),
    # As in the audit (item 1): a manager makes an associate of her own store a secondary
    # holder. The customer's home store and current holders' stores are S1.
    "POST /v1/{name=customers/*/assignment}:transfer": Rule(
        "TransferClient",
        MANAGEMENT,
        lambda s, c: Call(
            {"name": assignment_of(s)},
            body={
                "associate": c.colleague,
                "role": "ASSIGNMENT_ROLE_SECONDARY",
                "reason": "covering her clients",
                "requestId": rid(),
            },
        ),
        fresh=held_customer,
        missing=("customer",),
    ),
    # A claim is made by store staff with a book on a pool customer of their own store.
    "POST /v1/claims": Rule(
        "ClaimClient",
        S1_STAFF,
        lambda s, c: Call({}, {"requestId": rid()}, {"customer": s["pool_customer"], "reason": "I know her"}),
        missing=("pool_customer",),
    ),
    "GET /v1/claims": Rule("ListClaims", STAFF, lambda s, c: Call({}, {"pageSize": 200}), secret="claim"),
    # The claim is made by an associate of the caller's store on a pool customer of S1.
    "POST /v1/{name=claims/*}:approve": Rule(
        "ApproveClaim",
        MANAGEMENT,
        lambda s, c: Call({"name": s["claim"]}, body={"note": "welcome her"}),
        fresh=claim,
        missing=("claim",),
    ),
    "POST /v1/{name=claims/*}:reject": Rule(
        "RejectClaim",
        MANAGEMENT,
        lambda s, c: Call({"name": s["claim"]}, body={"note": "she stays in the pool"}),
        fresh=claim,
        missing=("claim",),
    ),
    "GET /v1/{parent=associates/*}/book": Rule(
        "ListClientBook",
        frozenset({HOLDER, SAME_STORE_MANAGER, HQ}),
        lambda s, c: Call({"parent": s["associate"]}),
        missing=("associate",),
        public=True,
    ),
    "GET /v1/{parent=stores/*}/book": Rule(
        "ListClientBook", MANAGEMENT, lambda s, c: Call({"parent": s["store"]}), missing=("store",), public=True
    ),
    # TaskService
    "GET /v1/tasks": Rule("ListTasks", STAFF, lambda s, c: Call({}, {"pageSize": 200}), secret="task"),
    "GET /v1/{name=tasks/*}": Rule("GetTask", READERS, lambda s, c: Call({"name": s["task"]}), missing=("task",)),
    "POST /v1/tasks": Rule(
        "CreateTask",
        READERS,
        lambda s, c: Call(
            {},
            {"requestId": rid()},
            {
                "customer": s["customer"],
                "kind": "TASK_KIND_MANUAL",
                "title": "Send her the lookbook",
                "dueTime": now_plus(days=1),
            },
        ),
        missing=("customer",),
    ),
    "POST /v1/{name=tasks/*}:complete": Rule(
        "CompleteTask",
        READERS,
        lambda s, c: Call({"name": s["task"]}, body={"outcomeNote": "called her"}),
        fresh=task,
        missing=("task",),
    ),
    "POST /v1/{name=tasks/*}:snooze": Rule(
        "SnoozeTask",
        READERS,
        lambda s, c: Call({"name": s["task"]}, body={"snoozeUntil": now_plus(days=1)}),
        fresh=task,
        missing=("task",),
    ),
    "POST /v1/{name=tasks/*}:cancel": Rule(
        "CancelTask",
        READERS,
        lambda s, c: Call({"name": s["task"]}, body={"outcomeNote": "no longer needed"}),
        fresh=task,
        missing=("task",),
    ),
    # PerformanceService: the holder's own figures.
    "GET /v1/performance": Rule(
        "GetPerformance",
        frozenset({HOLDER, SAME_STORE_MANAGER, HQ}),
        lambda s, c: Call({}, {"scope": s["associate"], "startTime": now_plus(days=-30), "endTime": now_plus(days=1)}),
    ),
    "GET /v1/attributions": Rule(
        "ListAttributions", STAFF, lambda s, c: Call({}, {"pageSize": 200}), secret="attribution"
    ),
    # The credit goes to an associate of the caller's store (item 6 has its own regression).
    "POST /v1/{name=attributions/*}:correct": Rule(
        "CorrectAttribution",
        MANAGEMENT,
        lambda s, c: Call({"name": s["attribution"]}, body={"associate": c.colleague, "reason": "she served her"}),
        fresh=attribution,
        missing=("attribution",),
    ),
}

# -- today's holes ------------------------------------------------------------------------
# Cells that fail on main today, each with the audit item it belongs to (a few the audit did
# not list are marked "beyond the audit"). strict: once fixed, the cell passes and the suite
# fails until its line here goes.

HOLES: dict[tuple[str, str], str] = {}

MISSING_HOLES: dict[tuple[str, str], str] = {}


# -- cells ----------------------------------------------------------------------------------

_, ROUTES = gateway_routes()


def _cells(holes: dict[tuple[str, str], str], callers: tuple[str, ...], only_missing: bool = False) -> list[Any]:
    cells = []
    for route in sorted(ROUTES):
        rule = EXPECTATIONS.get(route)
        if rule is None or (only_missing and not rule.missing):
            continue
        for caller in callers:
            reason = holes.get((route, caller))
            marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)] if reason else []
            cells.append(pytest.param(route, caller, marks=marks, id=f"{route}-{caller}"))
    return cells


class Matrix:
    def __init__(self, mesh: Mesh, world: World):
        self.mesh = mesh
        self.world = world
        self._fresh: dict[str, dict[str, Subject]] = {}

    async def subject(self, route: str, caller: str) -> Subject:
        rule = EXPECTATIONS[route]
        if rule.fresh is None:
            return dict(self.world.shared)
        if route not in self._fresh:
            # Every caller's resources of this route at once: the waits overlap.
            prepared = await gather_bounded([rule.fresh(self.world, self.world.callers[kind]) for kind in CALLER_KINDS])
            self._fresh[route] = dict(zip(CALLER_KINDS, prepared, strict=True))
        return {**self.world.shared, **self._fresh[route][caller]}

    def missing_subject(self, route: str) -> Subject:
        rule = EXPECTATIONS[route]
        shared = {"leaver": self.world.shared["associate"], **self.world.shared}
        return {**shared, **{key: missing_like(shared[key]) for key in rule.missing}}

    async def send(self, route: str, caller: str, subject: Subject) -> httpx.Response:
        rule = EXPECTATIONS[route]
        op = self.mesh.routes[route]
        who = self.world.callers[caller]
        request = rule.request(subject, who)
        path = expand(op.binding.template.text, request.path)
        matched = self.mesh.router.match(op.binding.method, path)
        assert matched is not None and matched.route is op, f"{path} does not reach {route}"
        return await call(
            self.mesh.client, op.binding.method, path, who.headers, params=request.params, body=request.body
        )


@pytest.fixture(scope="module")
def matrix(mesh: Mesh, world: World) -> Matrix:
    return Matrix(mesh, world)


def describe(answer: httpx.Response) -> str:
    return f"{answer.request.method} {answer.request.url} → {answer.status_code} {answer.text[:400]}"


@pytest.mark.parametrize(("route", "caller"), _cells(HOLES, CALLER_KINDS))
async def test_cell(matrix: Matrix, route: str, caller: str) -> None:
    rule = EXPECTATIONS[route]
    subject = await matrix.subject(route, caller)
    answer = await matrix.send(route, caller, subject)
    if caller == ANONYMOUS:
        assert answer.status_code == 401, describe(answer)
    elif caller == DEPARTED:
        assert answer.status_code == 403, describe(answer)
    elif caller in rule.allowed:
        assert answer.is_success, describe(answer)
    else:
        assert answer.status_code == rule.denial, describe(answer)
    if answer.is_success and rule.secret and caller not in rule.may_see:
        assert subject[rule.secret] not in answer.text, f"{caller} was shown {subject[rule.secret]}: {describe(answer)}"


@pytest.mark.parametrize(
    ("route", "caller"), _cells(MISSING_HOLES, tuple(k for k in CALLER_KINDS if k != ANONYMOUS), only_missing=True)
)
async def test_missing_ids_answer_as_out_of_reach(matrix: Matrix, route: str, caller: str) -> None:
    """The same request naming something that does not exist: store staff learn nothing
    (the answer they get for what exists out of their reach), headquarters learns 404."""
    rule = EXPECTATIONS[route]
    answer = await matrix.send(route, caller, matrix.missing_subject(route))
    if caller == DEPARTED:
        wanted = {403}
    elif caller == HQ:
        wanted = {404} if HQ in rule.allowed else {rule.denial}
    elif rule.public:
        wanted = {rule.denial, 404}
    else:
        wanted = {rule.denial}
    assert answer.status_code in wanted, describe(answer)


def test_every_route_has_expectations() -> None:
    """A route the gateway serves without a row here, or a row for a route it no longer
    serves, fails: the matrix covers the API as it is."""
    unexpected = sorted(set(ROUTES) - set(EXPECTATIONS))
    stale = sorted(set(EXPECTATIONS) - set(ROUTES))
    assert not unexpected, f"routes without expectations: {unexpected}"
    assert not stale, f"expectations for routes the gateway does not serve: {stale}"
    for route, rule in EXPECTATIONS.items():
        assert ROUTES[route].method.name == rule.rpc, f"{route} is {ROUTES[route].method.name}, not {rule.rpc}"
        assert rule.allowed <= STAFF and rule.may_see <= STAFF, route


def test_holes_name_real_cells() -> None:
    for route, caller in [*HOLES, *MISSING_HOLES]:
        assert route in EXPECTATIONS and route in ROUTES and caller in CALLER_KINDS, (route, caller)
    for route, _ in MISSING_HOLES:
        assert EXPECTATIONS[route].missing, f"{route} has no missing-id probe"
    for (route, _), reason in [*HOLES.items(), *MISSING_HOLES.items()]:
        assert reason.startswith(("audit item ", "beyond the audit: ")), (route, reason)
