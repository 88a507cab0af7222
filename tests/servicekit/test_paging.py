"""The page a list asks for (servicekit.paging.Page), without I/O: fetch one row more than
the page shows, show `size` of them, and a token of the page after only when that row came."""

from __future__ import annotations

import pytest

from servicekit import paging
from servicekit.errors import InvalidArgument
from servicekit.paging import Page


def test_a_page_fetches_one_row_more_than_it_shows():
    page = Page(2, None, "q")
    assert page.limit == 3
    assert page.items(["a", "b", "c"]) == ["a", "b"]
    assert page.items(["a"]) == ["a"]


def test_the_next_token_points_after_the_last_row_shown_and_is_bound_to_the_query():
    page = Page(2, None, "q")
    token = page.next_token(["a", "b", "c"], lambda row: [row])
    assert paging.decode(token, "q") == ["b"]
    with pytest.raises(InvalidArgument):
        paging.decode(token, "another query")
    assert page.next_token(["a", "b"], lambda row: [row]) == ""
    assert Page(1, ["a"]).query == ""
