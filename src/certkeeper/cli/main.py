"""The ``certkeeper`` command and its subcommands."""

from __future__ import annotations

import click

from certkeeper import __version__
from certkeeper.cli.acmesolver import acmesolver
from certkeeper.cli.cainjector import cainjector
from certkeeper.cli.controller import controller
from certkeeper.cli.crds import crds
from certkeeper.cli.local import local
from certkeeper.cli.validate import validate
from certkeeper.cli.webhook import webhook


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="certkeeper")
def cli() -> None:
    """certkeeper keeps X.509 certificates issued and renewed (cert-manager's v1 API)."""


cli.add_command(acmesolver)
cli.add_command(cainjector)
cli.add_command(controller)
cli.add_command(crds)
cli.add_command(local)
cli.add_command(validate)
cli.add_command(webhook)


def main() -> None:
    cli()
