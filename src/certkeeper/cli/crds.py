"""``certkeeper crds``: print the CustomResourceDefinitions, or write one file per CRD.

The CRDs come from :mod:`certkeeper.api.crds` (generated from the models). ``deploy/crds/`` is this
command's output, checked in; regenerate it with ``certkeeper crds --output-dir deploy/crds``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from certkeeper.api.crds import crd_files, render_all


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a CRD."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; CRDs are public manifests
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command("crds")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
    default=None,
    help="Write one file per CRD (named as cert-manager names them) into this directory instead of printing.",
)
def crds(output_dir: Path | None) -> None:
    """Print cert-manager's six CRDs, generated from certkeeper's models, as multi-document YAML."""
    if output_dir is None:
        click.echo(render_all(), nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in crd_files().items():
        _write_atomically(output_dir / name, text)
        click.echo(f"wrote {output_dir / name}", err=True)


__all__ = ["crds"]
