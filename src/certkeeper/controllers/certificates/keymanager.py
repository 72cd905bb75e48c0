"""certificates-key-manager: keeps the next private key ready while a Certificate is issuing.

Follows ``pkg/controller/certificates/keymanager/keymanager_controller.go``. The key lives in a
Secret labelled ``cert-manager.io/next-private-key`` owned by the Certificate and named in
``status.nextPrivateKeySecretName``; it is deleted once issuance ends. Keys are generated off the
event loop. The Secret's name is chosen here (``<certificate>-<5 random characters>``, as the API
server's generateName would), so that the Secret and the status naming it are one Outcome.
"""

from __future__ import annotations

import secrets as random_source

import msgspec

from certkeeper.api.annotations import IS_NEXT_PRIVATE_KEY_SECRET_LABEL, PART_OF_CERT_MANAGER_CONTROLLER_LABEL
from certkeeper.api.certmanager import Certificate
from certkeeper.api.constants import TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import Secret
from certkeeper.api.defaults import rotation_policy
from certkeeper.api.meta import ObjectMeta
from certkeeper.controllers.certificates.common import is_issuing, next_key_secrets, status_of, with_status
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import controller_ref, status_write
from certkeeper.pki.errors import PkiError
from certkeeper.pki.from_spec import key_spec, private_key_matches_spec
from certkeeper.pki.keys import (
    KeyEncoding,
    PrivateKey,
    encode_private_key_pem,
    generate_private_key,
    load_pem_private_key,
)
from certkeeper.pki.public_half import private_key_public_half
from certkeeper.runtime.events import Event
from certkeeper.runtime.offload import compute, slow_key
from certkeeper.runtime.outcome import NOTHING, Delete, Outcome, Write
from certkeeper.store.ports import RawObject
from certkeeper.store.resources import SECRETS, encode

#: Kubernetes' generateName alphabet (no vowels, no confusable digits).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def generated_name(prefix: str) -> str:
    return prefix + "".join(random_source.choice(_NAME_ALPHABET) for _ in range(5))


def go_list(values: list[str]) -> str:
    """A string list as Go's ``%v`` prints it: ``[a b c]``."""
    return "[" + " ".join(values) + "]"


def _delete(secrets: list[Secret], keep: str = "") -> tuple[Delete, ...]:
    return tuple(
        Delete(resource=SECRETS, name=s.name, namespace=s.namespace, uid=s.metadata.uid)
        for s in secrets
        if s.name != keep
    )


def _set_name(cert: Certificate, name: str | None) -> RawObject | None:
    status = status_of(cert)
    if status.next_private_key_secret_name == name:
        return None
    return status_write(with_status(cert, msgspec.structs.replace(status, next_private_key_secret_name=name)))


async def _new_key(cert: Certificate) -> PrivateKey:
    spec = key_spec(cert.spec.private_key)
    return await compute(generate_private_key, spec, slow=slow_key(spec.algorithm))


def _key_secret(cert: Certificate, name: str, key: PrivateKey) -> Secret:
    return Secret(
        api_version="v1",
        metadata=ObjectMeta(
            name=name,
            namespace=cert.namespace,
            owner_references=[controller_ref(cert)],
            labels={IS_NEXT_PRIVATE_KEY_SECRET_LABEL: "true", PART_OF_CERT_MANAGER_CONTROLLER_LABEL: "true"},
        ),
        data={TLS_PRIVATE_KEY_KEY: encode_private_key_pem(key, KeyEncoding.PKCS8)},
    )


def _store_key(cert: Certificate, key: PrivateKey, event: Event | None = None) -> Outcome:
    """Create the next-key Secret and name it in the status; ``event`` defaults to ``Generated``."""
    name = status_of(cert).next_private_key_secret_name or generated_name(cert.name + "-")
    if event is None:
        message = f'Stored new private key in temporary Secret resource "{name}"'
        event = Event(type="Normal", reason="Generated", message=message)
    return Outcome(
        creates=(Write(resource=SECRETS, object=encode(_key_secret(cert, name, key))),),
        status=_set_name(cert, name),
        write_events=(event,),  # as cert-manager: recorded once the Secret exists, whatever the status write
    )


async def _rotation_never(cert: Certificate, ctx: Context) -> Outcome:
    existing = ctx.secret(cert.namespace, cert.spec.secret_name)
    data = (existing.data or {}).get(TLS_PRIVATE_KEY_KEY) if existing is not None else None
    if not data:
        return _store_key(cert, await _new_key(cert))
    try:
        key = load_pem_private_key(data, limits=ctx.options.pem_limits)
    except PkiError:
        outcome = _store_key(cert, await _new_key(cert))
        warning = Event(
            type="Warning",
            reason="DecodeFailed",
            message=f'Failed to decode private key stored in Secret "{cert.spec.secret_name}" - generating new key',
        )
        return Outcome(creates=outcome.creates, status=outcome.status, write_events=(warning, *outcome.write_events))
    violations = private_key_matches_spec(key, cert.spec)
    if violations:
        fields = go_list(violations)
        return Outcome(
            events=(
                Event(
                    type="Warning",
                    reason="CannotRegenerateKey",
                    message=(
                        f'User intervention required: existing private key in Secret "{cert.spec.secret_name}" does '
                        f"not match requirements on Certificate resource, mismatching fields: {fields}, "
                        "but cert-manager cannot create new private key as the Certificate's "
                        ".spec.privateKey.rotationPolicy is unset or set to Never. To allow cert-manager to create a "
                        "new private key you can set .spec.privateKey.rotationPolicy to 'Always' (this will result in "
                        "the private key being regenerated every time a cert is renewed) "
                    ),
                ),
            )
        )
    message = f'Reusing private key stored in existing Secret resource "{cert.spec.secret_name}"'
    return _store_key(cert, key, Event(type="Normal", reason="Reused", message=message))


async def decide(cert: Certificate, ctx: Context) -> Outcome:
    secrets = next_key_secrets(ctx, cert)
    if not is_issuing(cert):
        status = _set_name(cert, None)
        if not secrets and status is None:
            return NOTHING
        return Outcome(deletes=_delete(secrets), status=status)
    if not secrets:
        if rotation_policy(cert.spec) == "Never":
            return await _rotation_never(cert, ctx)
        return _store_key(cert, await _new_key(cert))
    named = status_of(cert).next_private_key_secret_name
    if len(secrets) > 1:
        return Outcome(deletes=_delete(secrets, keep=named or ""))
    secret = secrets[0]
    if named is None:
        return Outcome(status=_set_name(cert, secret.name))
    if named != secret.name:
        return Outcome(deletes=_delete(secrets))
    data = (secret.data or {}).get(TLS_PRIVATE_KEY_KEY)
    if not data:
        return Outcome(deletes=_delete(secrets))
    try:
        public = private_key_public_half(data, limits=ctx.options.pem_limits)
    except PkiError:
        return Outcome(deletes=_delete(secrets))
    violations = private_key_matches_spec(public, cert.spec)
    if violations:
        event = Event(
            type="Normal",
            reason="Deleted",
            message=f"Regenerating private key due to change in fields: {go_list(violations)}",
        )
        return Outcome(deletes=_delete(secrets), write_events=(event,))
    return NOTHING
