"""What a consumer may commit when records of one partition finish out of order."""

from __future__ import annotations

from shared.kafka.consumer import PartitionProgress


def test_the_commit_stops_at_the_oldest_record_not_finished() -> None:
    progress = PartitionProgress()
    for offset in (10, 11, 12, 13):
        progress.started(offset)
    assert progress.committable() == 10  # nothing finished: where reading resumes
    progress.finished(11)
    progress.finished(13)
    assert progress.committable() is None  # 10 still in hand: no move
    progress.finished(10)
    assert progress.committable() == 12  # 10 and 11 done, 12 not yet
    progress.finished(12)
    assert progress.committable() == 14  # everything handed out is finished
    assert progress.committable() is None  # nothing new to say


def test_an_idle_partition_has_nothing_to_commit() -> None:
    assert PartitionProgress().committable() is None
