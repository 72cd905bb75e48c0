"""What ``certkeeper local`` shows: one row per Certificate with its issuer, state, expiry, renewal time
and last error, derived from the stored objects (pure), rendered as a rich table.

A running ``certkeeper local`` also writes the rows to ``status.json`` in its state directory, which is
how ``certkeeper local status`` can print them while the state database is locked by the runner.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from certkeeper.localmode.sync import ManifestError


@dataclass(frozen=True, slots=True)
class CertificateRow:
    namespace: str
    name: str
    issuer: str
    state: str
    expires: str
    renews: str
    message: str


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {c.get("type", ""): c for c in obj.get("status", {}).get("conditions") or [] if isinstance(c, dict)}


def _issuer(cert: Mapping[str, Any]) -> str:
    ref = cert.get("spec", {}).get("issuerRef") or {}
    kind = ref.get("kind") or "Issuer"
    return f"{kind}/{ref.get('name', '?')}"


def _issuing_stage(cert: Mapping[str, Any], requests: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    status = cert.get("status", {})
    if not status.get("nextPrivateKeySecretName"):
        return "Issuing", "generating private key"
    revision = int(status.get("revision") or 0) + 1
    request = requests.get(f"{cert['metadata'].get('namespace')}/{cert['metadata']['name']}/{revision}")
    if request is None:
        return "Issuing", "creating certificate request"
    conditions = _conditions(request)
    if "Approved" not in conditions and "Denied" not in conditions:
        return "Issuing", "waiting for approval"
    ready = conditions.get("Ready")
    if ready is None:
        return "Issuing", "signing"
    if ready.get("reason") == "Pending":
        return "Pending", str(ready.get("message", ""))
    if ready.get("reason") == "Issued":
        return "Issuing", "storing certificate"
    return "Issuing", str(ready.get("message", ""))


def certificate_rows(
    certificates: Iterable[Mapping[str, Any]],
    requests: Iterable[Mapping[str, Any]],
    errors: Sequence[ManifestError] = (),
) -> list[CertificateRow]:
    """One row per Certificate (plus rows for manifests that could not become objects)."""
    by_revision: dict[str, Mapping[str, Any]] = {}
    for request in requests:
        meta = request.get("metadata", {})
        revision = (meta.get("annotations") or {}).get("cert-manager.io/certificate-revision")
        owner = (meta.get("annotations") or {}).get("cert-manager.io/certificate-name")
        if revision and owner:
            by_revision[f"{meta.get('namespace')}/{owner}/{revision}"] = request
    errors_by_key = {e.object_key: e for e in errors if e.object_key}
    rows = []
    for cert in certificates:
        meta = cert.get("metadata", {})
        status = cert.get("status", {})
        conditions = _conditions(cert)
        ready, issuing = conditions.get("Ready"), conditions.get("Issuing")
        if issuing is not None and issuing.get("status") == "True":
            state, message = _issuing_stage(cert, by_revision)
        elif issuing is not None and issuing.get("status") == "False" and status.get("lastFailureTime"):
            state, message = "Failed", str(issuing.get("message", ""))
        elif ready is not None and ready.get("status") == "True":
            state, message = "Ready", ""
        elif ready is not None:
            state, message = "Not ready", f"{ready.get('reason', '')}: {ready.get('message', '')}"
        else:
            state, message = "Waiting", ""
        error = errors_by_key.get(f"Certificate/{meta.get('namespace', '')}/{meta.get('name', '')}")
        if error is not None:
            message = f"{error}" + (f" ({message})" if message else "")
        rows.append(
            CertificateRow(
                namespace=str(meta.get("namespace", "")),
                name=str(meta.get("name", "")),
                issuer=_issuer(cert),
                state=state,
                expires=str(status.get("notAfter", "")),
                renews=str(status.get("renewalTime", "")),
                message=message,
            )
        )
    known = {f"Certificate/{r.namespace}/{r.name}" for r in rows}
    for error in errors:
        if error.object_key in known:
            continue
        rows.append(CertificateRow("", error.path, "", "Invalid", "", "", str(error)))
    return sorted(rows, key=lambda r: (r.namespace, r.name))


_STATE_STYLE = {"Ready": "green", "Issuing": "cyan", "Pending": "yellow", "Failed": "red", "Invalid": "red"}


def render_table(rows: Sequence[CertificateRow], *, now: datetime | None = None, spinner: str = "") -> Table:
    title = "certkeeper local" + (f" — {now.strftime('%Y-%m-%d %H:%M:%S')}" if now else "")
    table = Table(title=title, expand=False)
    for column in ("Certificate", "Issuer", "State", "Expires", "Renews", "Last error / progress"):
        table.add_column(column, overflow="fold")
    for row in rows:
        name = f"{row.namespace}/{row.name}" if row.namespace else row.name
        state = row.state + (f" {spinner}" if spinner and row.state == "Issuing" else "")
        table.add_row(
            name, row.issuer, Text(state, style=_STATE_STYLE.get(row.state, "")), row.expires, row.renews, row.message
        )
    return table


def write_snapshot(path: Path, rows: Sequence[CertificateRow], *, written_at: datetime) -> None:
    """Atomically replace the status snapshot the ``status`` command reads."""
    tmp = path.with_name(path.name + ".tmp")
    payload = {"writtenAt": written_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "certificates": [asdict(r) for r in rows]}
    with open(tmp, "w") as handle:
        json.dump(payload, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_snapshot(path: Path) -> tuple[str, list[CertificateRow]]:
    data = json.loads(path.read_text())
    return str(data.get("writtenAt", "")), [CertificateRow(**row) for row in data.get("certificates", [])]
