"""The memory benchmark's readings: objects in use and arenas held, resident KiB by kind."""

from __future__ import annotations

import pytest

from bench import allocator

STATS = """\
Small block threshold = 512, in 32 size classes.
# arenas allocated total           =                   61
# arenas reclaimed                 =                   14
# arenas highwater mark            =                   47
# arenas allocated current         =                   47
47 arenas * 1048576 bytes/arena    =           49,283,072
# bytes in allocated blocks        =           25,501,520
# bytes in available blocks        =           13,391,760
"""

SMAPS = """\
5556ee604000-5556ee605000 r--p 00000000 fe:00 18500 /usr/bin/python3.11
Size:                  4 kB
Rss:                   4 kB
VmFlags: rd mr mw me dw sd
5556ef000000-5556ef900000 rw-p 00000000 00:00 0                          [heap]
Size:               9216 kB
Rss:                9000 kB
VmFlags: rd wr mr mw me ac sd
7f0000000000-7f0002000000 rw-p 00000000 00:00 0
Size:              32768 kB
Rss:               30000 kB
VmFlags: rd wr mr mw me ac sd
7f0003000000-7f0003100000 rw-p 00000000 00:00 0
Rss:                 100 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                  60 kB
7f0004000000-7f0004100000 r-xp 00010000 fe:00 1234 /usr/lib/libssl.so.3
Rss:                 700 kB
"""


def test_mallocstats_reads_the_arenas_held_now_and_the_bytes_in_use() -> None:
    assert allocator.mallocstats(STATS) == {"arenas": 47, "small_in_use": 25_501_520}


def test_mallocstats_says_what_it_could_not_find() -> None:
    with pytest.raises(ValueError, match="arenas allocated current"):
        allocator.mallocstats(STATS.replace("arenas allocated current", "arenas now"))


def test_smaps_adds_resident_kib_by_heap_anonymous_and_files_and_leaves_the_stack_out() -> None:
    assert allocator.smaps(SMAPS) == {"heap_kib": 9000, "anonymous_kib": 30100, "files_kib": 704}


def test_readings_of_this_process_see_objects_made_and_freed() -> None:
    before = allocator.readings()
    kept = [[i] for i in range(50_000)]  # 50,000 small lists, tracked, about 5 MiB
    during = allocator.readings()
    del kept
    after = allocator.readings()
    assert during["small_in_use"] - before["small_in_use"] > 2_500_000
    # Arenas need not grow (freed pools of a long test run take the lists), but they hold
    # at least every small object in use.
    assert during["arenas"] * 1024 * 1024 >= during["small_in_use"]
    assert during["small_in_use"] - after["small_in_use"] > 2_500_000
    assert min(before["heap_kib"], before["anonymous_kib"], before["files_kib"]) > 0
    assert during["tracked"] - before["tracked"] > 49_000
    assert during["tracked"] - after["tracked"] > 49_000
