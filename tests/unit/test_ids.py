"""Ids typed like git's: shortest unique prefixes, prefix look-up, "did you mean"."""

from __future__ import annotations

import pytest

from autorust.cli.errors import ConfigError
from autorust.cli.ids import resolve_id, shortest_prefixes

IDS = ["7b09c954cb7e2d53-10e4f421", "7b09c954cb7e2d53-99999999", "1f2e3d4c5b6a7980-10e4f421",
       "7b09c954cb7e2d53-10e4f421-fork-0a1b2c3d"]  # fmt: skip


def test_shortest_prefixes_are_unique_and_at_least_eight() -> None:
    short = shortest_prefixes(IDS)
    assert short["1f2e3d4c5b6a7980-10e4f421"] == "1f2e3d4c"
    assert short["7b09c954cb7e2d53-99999999"] == "7b09c954cb7e2d53-9"
    for full, prefix in short.items():
        assert resolve_id(prefix, IDS, "run", "thread") == full


def test_a_prefix_a_folder_name_or_the_whole_id() -> None:
    assert resolve_id("1f2e", IDS, "run", "thread") == IDS[2]
    folder = f"palindrome-{IDS[3]}-1a2b3c"
    assert resolve_id(folder, IDS, "run", "thread") == IDS[3]
    assert resolve_id(IDS[0], IDS, "run", "thread") == IDS[0]


def test_ambiguous_and_missing_ids_say_what_to_type() -> None:
    with pytest.raises(ConfigError, match="ambiguous: 3 runs start with it"):
        resolve_id("7b09", IDS, "run", "thread")
    with pytest.raises(ConfigError, match="did you mean 1f2e3d4c5b6a7980-10e4f421"):
        resolve_id("1f2e3d4c5b6a7981-10e4f421", IDS, "run", "thread")
    with pytest.raises(ConfigError, match=r"no run 'zzz'$"):
        resolve_id("zzz", IDS, "run", "thread")


def test_batch_ids_sort_in_the_order_they_were_made_within_one_second() -> None:
    from datetime import UTC, datetime

    from autorust.reporting.batches import new_batch_id

    second = datetime(2026, 12, 5, 13, 55, 0, tzinfo=UTC)
    for _ in range(20):  # the random suffix must never decide the order
        made = [new_batch_id(second.replace(microsecond=m)) for m in (999_999, 5, 120, 400_000)]
        assert sorted(made) == [made[1], made[2], made[3], made[0]]
