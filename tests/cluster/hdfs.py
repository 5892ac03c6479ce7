"""Read what the jobs wrote to HDFS from outside, over WebHDFS (fsspec's client): the lake, and the
checkpoints' offset and commit logs (the same files streaming/progress.py reads on a local disk); and
put a small lake there for a job to read."""
from __future__ import annotations

import io
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fsspec.implementations.webhdfs import WebHDFS

from stack.hadoop import HadoopLayout
from streaming.progress import Offsets, batch_offsets, newest_batch


def webhdfs(layout: HadoopLayout) -> WebHDFS:
    return WebHDFS(host=layout.host, port=layout.namenode_http_port, user="exstreamly", use_listings_cache=False)


def copy_to_local(fs: WebHDFS, uri: str, dest: Path, *, only: tuple[str, ...] = ()) -> Path:
    """Copy the directory at `uri` (hdfs://…) to `dest`; with `only`, just those subdirectories."""
    root = urlparse(uri).path.rstrip("/")
    dest.mkdir(parents=True, exist_ok=True)
    for sub in only or ("",):
        source = f"{root}/{sub}".rstrip("/")
        if fs.exists(source):
            for path in fs.find(source):
                local = dest / path[len(root):].lstrip("/")
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(fs.cat_file(path))
    return dest


def committed_offsets(fs: WebHDFS, checkpoint_uri: str) -> Offsets:
    """streaming/progress.committed_offsets for a checkpoint on HDFS: two reads, not a copy."""
    root = urlparse(checkpoint_uri).path.rstrip("/")
    if not fs.exists(f"{root}/commits"):
        return {}
    batch = newest_batch(Path(p).name for p in fs.ls(f"{root}/commits", detail=False))
    return {} if batch is None else batch_offsets(fs.cat_file(f"{root}/offsets/{batch}").decode())


def put_raw_records(fs: WebHDFS, rows: list[tuple[Any, ...]], uri: str) -> None:
    """Write RAW_RECORD_SCHEMA rows (`tests.conftest.raw_records`; naive times are UTC) as one Parquet
    file of the lake directory `uri`, as the archive job would have."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("key", pa.string()), ("value", pa.string()), ("topic", pa.string()),
                        ("partition", pa.int32()), ("offset", pa.int64()), ("timestamp", pa.timestamp("us", "UTC"))])
    columns = list(zip(*rows, strict=True))
    columns[5] = tuple(t.replace(tzinfo=UTC) if t.tzinfo is None else t for t in columns[5])
    out = io.BytesIO()
    pq.write_table(pa.table([list(c) for c in columns], schema=schema), out)
    fs.pipe_file(f"{urlparse(uri).path.rstrip('/')}/part-00000.parquet", out.getvalue())
