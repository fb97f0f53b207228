"""The last batch's readings, remembered per thread and forgotten everywhere at once."""

from __future__ import annotations

import threading

from services.emotion.batch_memo import LastBatch


def test_each_thread_keeps_its_own_last_batch_and_forget_reaches_them_all() -> None:
    reads: list[tuple[str, ...]] = []

    def read(texts: list[str], languages: list[str]) -> list[str]:
        reads.append(tuple(texts))
        return [f"{t}/{lang}" for t, lang in zip(texts, languages, strict=True)]

    memo: LastBatch[str] = LastBatch(read)
    assert memo(["a"], ["en"]) == ["a/en"]
    other = threading.Thread(target=lambda: memo(["b"], ["en"]))
    other.start()
    other.join()
    assert memo(["a"], ["en"]) == ["a/en"]  # still remembered: the other thread had its own
    assert memo(["a"], ["fr"]) == ["a/fr"]  # another column is another batch
    assert reads == [("a",), ("b",), ("a",)]

    memo.forget()
    memo(["a"], ["fr"])
    assert reads[-1] == ("a",) and len(reads) == 4
