"""The store's pure rule for a reply's thread: the References it carries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.email_adapter.store import reply_references

ids = st.text(alphabet="abc0123", min_size=1, max_size=3)


@given(st.lists(ids, max_size=30), ids)
def test_an_answer_references_the_mails_references_then_the_mail(
    references: list[str], answered: str
) -> None:
    chain = reply_references(references, answered)
    assert chain[-1] == answered
    assert len(set(chain)) == len(chain)
    assert set(chain) == {*references, answered}
    earlier = list(chain[:-1])
    assert earlier == sorted(earlier, key=references.index)  # oldest first, as written
