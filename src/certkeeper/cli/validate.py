"""``certkeeper validate FILE...``: check manifests as a cluster running cert-manager would.

Every document of every file (``-`` is stdin) goes through :func:`certkeeper.validation.admission.admit`
as a create: the API server's schema check, cert-manager's defaults and its webhook's rules. The
answer for each object is one status line on stdout
(``certificate.cert-manager.io/my-cert (certs.yaml, document 2): valid``) followed on stderr by what
``kubectl apply`` would show: the API server's warnings (``Warning: unknown field "spec.foo"``) and,
for an invalid object, the message kubectl prints: ``The Certificate "x" is invalid: ...`` for the
schema, ``Error from server (Forbidden): error when creating "certs.yaml": admission webhook
"webhook.cert-manager.io" denied the request: ...`` for the webhook, each followed by one line per
error when there are several.

``status`` is ignored, as the API server ignores it on create. Objects of other API groups
(Secrets, Namespaces...) are skipped; an unknown kind in a cert-manager group is invalid, as kubectl
would find no such resource. Exit status: 0 when every object is valid, 1 when any is invalid, 2
when an input cannot be read or parsed (which wins over 1).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import click

from certkeeper.api import features
from certkeeper.api.constants import ACME_GROUP, GROUP
from certkeeper.api.field import FieldError, FieldPath, required
from certkeeper.api.gojson import go_quote
from certkeeper.api.manifests import ManifestError, parse_yaml
from certkeeper.validation.admission import ADMITTED_KINDS, Operation, Stage, admit
from certkeeper.validation.common import dedupe

WEBHOOK_NAME: Final = "webhook.cert-manager.io"
EXIT_INVALID: Final = 1
EXIT_UNREADABLE: Final = 2
_CERT_MANAGER_GROUPS: Final = frozenset({GROUP, ACME_GROUP})


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The outcome for one object: the status line, and what goes to stderr before it."""

    line: str
    messages: tuple[str, ...] = ()
    invalid: bool = False


def _resource_name(kind: str, group: str, name: str) -> str:
    resource = f"{kind.lower()}.{group}" if group else kind.lower()
    return f"{resource}/{name}" if name else resource


def _bulleted(header: str, errors: Sequence[FieldError]) -> list[str]:
    """kubectl's multi-line error: the header alone when there is one error, else one ``* `` line each."""
    if len(errors) == 1:
        return [f"{header}: {errors[0]}"]
    return [f"{header}: ", *(f"* {error}" for error in errors)]


def _aggregate(errors: Sequence[FieldError]) -> str:
    if len(errors) == 1:
        return str(errors[0])
    return "[" + ", ".join(str(error) for error in errors) + "]"


def check_document(data: Mapping[str, Any], source: str, index: int, gates: features.FeatureGates) -> Verdict:
    """Admit one manifest document as a create and word the outcome as kubectl would."""
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    generate_name = metadata.get("generateName") if isinstance(metadata, Mapping) else None
    display_name = name if isinstance(name, str) else ""
    where = f"({source}, document {index + 1})"
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        missing = "apiVersion" if not isinstance(api_version, str) or not api_version else "kind"
        return Verdict(line=f"{where}: invalid", messages=(f"error: {missing} not set",), invalid=True)
    group = api_version.rpartition("/")[0]
    title = f"{_resource_name(kind, group, display_name)} {where}"
    if group not in _CERT_MANAGER_GROUPS:
        return Verdict(line=f"{title}: skipped (not a cert-manager kind)")
    if kind not in ADMITTED_KINDS:
        message = f'error: resource mapping not found: no matches for kind "{kind}" in version "{api_version}"'
        return Verdict(line=f"{title}: invalid", messages=(message,), invalid=True)

    # Every cert-manager kind has a status subresource, so the API server drops ``status`` on create
    # before validating anything but unknown fields (as the local store does); so do we.
    result = admit(kind, Operation.CREATE, {key: value for key, value in data.items() if key != "status"}, None, gates)
    warnings = tuple(f"Warning: {warning}" for warning in result.warnings)
    schema_errors = list(result.errors) if result.stage in (Stage.SCHEMA, Stage.DECODE) else []
    if not display_name and not (isinstance(generate_name, str) and generate_name):
        # The API server checks metadata with the schema; admission leaves names to the store.
        schema_errors.insert(0, required(FieldPath("metadata", "name"), "name or generateName is required"))
    if schema_errors:
        lines = _bulleted(f"The {kind} {go_quote(display_name)} is invalid", schema_errors)
        return Verdict(line=f"{title}: invalid", messages=(*warnings, *lines), invalid=True)
    if result.errors:
        errors = dedupe(result.errors)
        header = (
            f'Error from server (Forbidden): error when creating "{source}": admission webhook "{WEBHOOK_NAME}" '
            f"denied the request: {_aggregate(errors)}"
        )
        details = [f"* {error}" for error in errors] if len(errors) > 1 else []
        return Verdict(line=f"{title}: invalid", messages=(*warnings, header, *details), invalid=True)
    return Verdict(line=f"{title}: valid", messages=warnings)


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    return Path(source).read_bytes()


def validate_sources(sources: Sequence[str], gates: features.FeatureGates) -> int:
    """Check every document of every source, print the verdicts, and return the exit status."""
    status = 0
    for source in sources:
        label = "<stdin>" if source == "-" else source
        try:
            documents = parse_yaml(_read(source))
        except OSError as exc:
            click.echo(f"error: cannot read {label}: {exc.strerror or exc}", err=True)
            status = EXIT_UNREADABLE
            continue
        except ManifestError as exc:
            click.echo(f"error: {label}: {exc}", err=True)
            status = EXIT_UNREADABLE
            continue
        for document in documents:
            verdict = check_document(document.data, label, document.index, gates)
            click.echo(verdict.line)
            for message in verdict.messages:
                click.echo(message, err=True)
            if verdict.invalid and status == 0:
                status = EXIT_INVALID
    return status


@click.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--feature-gates",
    default="",
    metavar="A=true,B=false",
    help="cert-manager feature gates to validate with (e.g. LiteralCertificateSubject=false).",
)
def validate(files: tuple[str, ...], feature_gates: str) -> None:
    """Check cert-manager manifests (multi-document YAML; - for stdin) as the API server and webhook would.

    Exits 1 when any object is invalid, 2 when an input cannot be read or parsed.
    """
    try:
        gates = features.parse(feature_gates)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--feature-gates") from exc
    status = validate_sources(files, gates)
    if status:
        sys.exit(status)


__all__ = [
    "EXIT_INVALID",
    "EXIT_UNREADABLE",
    "WEBHOOK_NAME",
    "Verdict",
    "check_document",
    "validate",
    "validate_sources",
]
