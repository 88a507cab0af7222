"""The client book over gRPC: an associate's customers or a store's, from the read model."""

from __future__ import annotations

from atelier.associate.v1 import associate_service_pb2 as api
from servicekit import context, paging
from servicekit.errors import NotFound, invalid

from ..domain import access, book as book_rules
from ..storage import book as book_db, mapping, staff as staff_db

DEFAULT_PAGE = 50


class BookRpcs:
    _engine = None

    async def ListClientBook(self, request, context_):
        caller = context.principal()
        kind, _, pid = request.parent.partition("/")
        if kind not in ("associates", "stores") or not pid or "/" in pid:
            raise invalid("parent", "must look like associates/<id> or stores/<id>")
        size = paging.page_size(request.page_size, default=DEFAULT_PAGE)
        flt = book_rules.parse_filter(request.filter)
        order = book_rules.parse_order(request.order_by)
        query = f"{request.parent}|{request.filter}|{request.order_by}"
        after = paging.decode(request.page_token, query, shape=(str, str, str))
        if after is not None:
            try:
                after[0] = float(after[0])
            except ValueError:
                raise invalid("page_token", "not a page token issued by this API") from None
        async with self._engine.connect() as conn:
            if kind == "associates":
                holder = await staff_db.get(conn, pid)
                if holder is None:
                    raise NotFound(request.parent)
                store = f"stores/{holder.store_id}"
            else:
                store = request.parent
            access.check_book(caller, kind, request.parent, store)
            rows = await book_db.page(
                conn, associate=pid if kind == "associates" else None, store=pid if kind == "stores" else None,
                flt=flt, order=order, after=after, limit=size + 1,
            )
        response = api.ListClientBookResponse(entries=[mapping.book_entry(r) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, query, lambda last: [repr(last.sort_key), last.customer_id, last.associate_id]
        )
        return response
