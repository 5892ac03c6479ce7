"""Read what the jobs wrote to HDFS from outside, over WebHDFS (fsspec's client): the lake, and the
checkpoints' offset and commit logs (the same files streaming/progress.py reads on a local disk)."""
from __future__ import annotations

from pathlib import Path
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
