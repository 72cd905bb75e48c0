"""Find the manifest files of a directory and tell which were added, changed or removed since last look.

Polling ``stat`` is portable, needs no extra dependency and costs microseconds for the tens of files a
host has; a file's signature is (size, mtime_ns, inode), so an editor's write-and-rename is seen.
Hidden files and directories (``.certkeeper``, ``.git``, editor swap files) are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

Signature = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Changes:
    added: tuple[Path, ...] = ()
    changed: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def list_manifest_files(root: Path) -> dict[Path, Signature]:
    found: dict[Path, Signature] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not name.endswith(MANIFEST_SUFFIXES):
                continue
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            found[path] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return found


@dataclass(slots=True)
class DirectoryScanner:
    root: Path
    _known: dict[Path, Signature] = field(default_factory=dict)

    def scan(self) -> Changes:
        current = list_manifest_files(self.root)
        added = tuple(p for p in current if p not in self._known)
        changed = tuple(p for p in current if p in self._known and self._known[p] != current[p])
        removed = tuple(p for p in self._known if p not in current)
        self._known = current
        return Changes(added, changed, removed)

    @property
    def files(self) -> list[Path]:
        return sorted(self._known)
