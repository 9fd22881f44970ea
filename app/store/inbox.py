"""The inbox: how other processes hand files to the process that owns the store.

Layout under the inbox folder (default `data/inbox/`):

    <kind>/NAME.csv              a file to ingest (any supported format)
    <kind>/NAME.batch/           a folder of files to ingest as one transaction
    processed/<kind>/NAME        ingested (or all duplicates)
    rejected/<kind>/NAME         refused; NAME.error.txt beside it says why

Writers create a temporary name that starts with "." and rename it into place,
so the worker never sees half a file. The worker ingests each entry in one
transaction and only then moves it, so after a crash an entry is either still in
the inbox (and ingesting it again adds nothing twice) or in processed/.
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from app.fsutil import atomic_write, fsync_dir
from app.store.ingest import IngestError, IngestResult, file_format, ingest_files
from app.store.kinds import kinds

BATCH_SUFFIX = ".batch"


def _unique(dest: Path) -> Path:
    if not dest.exists():
        return dest
    stem, n = dest.name, 1
    while True:
        cand = dest.with_name(f"{stem}.{n}")
        if not cand.exists():
            return cand
        n += 1


def drop(inbox: Path, kind: str, paths: Sequence[str | Path]) -> Path:
    """Copy files into the inbox as one batch (temporary name, then rename)."""
    folder = inbox / kind
    folder.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{name}{BATCH_SUFFIX}.tmp"
    tmp.mkdir()
    for i, p in enumerate(map(Path, paths)):
        target = tmp / f"{i:03d}-{p.name}"
        shutil.copyfile(p, target)
        with open(target, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(tmp)
    final = folder / f"{name}{BATCH_SUFFIX}"
    os.rename(tmp, final)
    fsync_dir(folder)
    return final


def write_file(inbox: Path, kind: str, name: str, write: Callable[[Path], None]) -> Path:
    """Write one inbox file through `write(tmp_path)`, then rename it into place."""
    return atomic_write(inbox / kind / name, write)


@dataclass
class Outcome:
    entry: Path
    kind: str
    moved_to: Path
    result: IngestResult | None = None
    error: str | None = None


def pending(inbox: Path) -> list[tuple[str, Path]]:
    """Entries waiting in the inbox, oldest first."""
    out = []
    for kind in kinds():
        folder = inbox / kind
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name.startswith("."):
                continue
            out.append((kind, entry))
    out.sort(key=lambda ke: (ke[1].stat().st_mtime, ke[1].name))
    return out


def _files_of(entry: Path) -> list[Path]:
    if entry.is_dir():
        return sorted(p for p in entry.iterdir() if p.is_file() and not p.name.startswith("."))
    return [entry]


def process_entry(store, inbox: Path, kind: str, entry: Path) -> Outcome:
    """Ingest one inbox entry, then move it to processed/ or rejected/."""
    files = _files_of(entry)
    try:
        if not files:
            raise IngestError([])
        for f in files:
            file_format(f)
        result = ingest_files(store, files, kind, source=f"inbox:{entry.name}")
    except IngestError as exc:
        report = exc.report() if exc.problems else "the batch folder holds no files"
        return _move(inbox, "rejected", kind, entry, error=report)
    except Exception:  # a bug or a store error: keep the evidence, never loop on it
        return _move(inbox, "rejected", kind, entry, error="unexpected error:\n" + traceback.format_exc())
    return _move(inbox, "processed", kind, entry, result=result)


def _move(inbox: Path, where: str, kind: str, entry: Path, *, result: IngestResult | None = None,
          error: str | None = None) -> Outcome:
    dest_dir = inbox / where / kind
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = _unique(dest_dir / entry.name)
    os.rename(entry, dest)
    if error is not None:
        Path(str(dest) + ".error.txt").write_text(error + "\n")
    elif result is not None:
        Path(str(dest) + ".summary.txt").write_text(result.summary() + "\n")
    return Outcome(entry, kind, dest, result, error)


def process_all(store, inbox: Path) -> list[Outcome]:
    return [process_entry(store, inbox, kind, entry) for kind, entry in pending(inbox)]
