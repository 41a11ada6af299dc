"""A writer SIGKILLed in the middle of a Parquet write, then the write run again.

The killed writer leaves its hidden scratch file; the partition still holds its old data, no reader sees the scratch
file (``lake.partition_days``, pandas and Arrow datasets over the folder), and the next write of the partition
removes it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import date

import pandas as pd
import pyarrow.dataset as ds
import pytest

from driftloop.storage import lake

pytestmark = pytest.mark.faults

DAY = date(2026, 5, 10)
SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from driftloop.storage import lake

    rows = pa.table({"customer_id": list(range(1000)), "prediction": [0.5] * 1000})
    with lake.replace_file(Path(sys.argv[1])) as scratch, pq.ParquetWriter(scratch, rows.schema) as writer:
        writer.write_table(rows)
        print("half written", flush=True)
        time.sleep(120)
    """
)


def test_a_killed_parquet_write_leaves_nothing_a_reader_or_the_rerun_trips_on(tmp_path):
    folder = tmp_path / "predictions"
    target = folder / f"{lake.partition_name(DAY)}.parquet"
    with lake.replace_file(target) as scratch:
        pd.DataFrame({"customer_id": [1, 2, 3], "prediction": [0.1, 0.2, 0.3]}).to_parquet(scratch, index=False)

    writer = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "half written"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        writer.kill()
    assert writer.returncode == -signal.SIGKILL
    [leftover] = lake.scratch_leftovers(target)
    assert leftover.name.startswith(f".{target.name}.") and leftover.stat().st_size > 0

    assert lake.partition_days(folder) == [DAY]
    assert len(pd.read_parquet(target)) == 3
    assert len(pd.read_parquet(folder)) == 3, "pandas over the folder reads the partition only"
    assert ds.dataset(folder, format="parquet").files == [str(target)]

    with lake.replace_file(target) as scratch:
        pd.DataFrame({"customer_id": [4, 5], "prediction": [0.4, 0.5]}).to_parquet(scratch, index=False)
    assert lake.scratch_leftovers(target) == []
    assert pd.read_parquet(target)["customer_id"].tolist() == [4, 5]
    assert sorted(path.name for path in folder.iterdir()) == [target.name]


def test_a_killed_folder_swap_leaves_scratch_folders_the_next_write_removes(tmp_path):
    target = lake.partition_dir(tmp_path / "validated", DAY)
    with lake.replace_dir(target) as scratch:
        (scratch / "part.parquet").write_bytes(b"old")
    for suffix in ("0a1b.tmp", "2c3d.old"):
        left = target.parent / f".{target.name}.{suffix}"
        left.mkdir()
        (left / "part.parquet").write_bytes(b"half")
    assert len(lake.scratch_leftovers(target)) == 2 and lake.partition_days(target.parent) == [DAY]

    with lake.replace_dir(target) as scratch:
        (scratch / "part.parquet").write_bytes(b"new")
    assert lake.scratch_leftovers(target) == []
    assert (target / "part.parquet").read_bytes() == b"new"
