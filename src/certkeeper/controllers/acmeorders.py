"""acme orders: drives one ACME order from creation to a certificate, through Challenge resources.

Follows ``pkg/controller/acmeorders/sync.go``::

    (no url) --newOrder--> pending --authz metadata--> Challenges created (one per pending authz,
    solver picked by selector) --challenges valid--> ready --finalize--> valid --certificate--> done
                 \\ any 4xx / invalid order --> errored | invalid (failure states: never touched again)

The status is written only when it changed; ACME calls go through the issuer's account client.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging

import msgspec
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.acme.client import AcmeClient
from certkeeper.acme.errors import AcmeError, AcmeProblem, AlreadyReplaced, Malformed, NotSupported, OrderFailed
from certkeeper.acme.jws import key_authorization
from certkeeper.acme.messages import Identifier
from certkeeper.acme.resources import OrderResource
from certkeeper.acme.solvers.base import SolverConfigError
from certkeeper.acme.solvers.http01_overrides import apply_http01_overrides
from certkeeper.acme.solvers.selection import domain_to_match, pick_solver
from certkeeper.api.acme import (
    CHALLENGE_FINAL_STATES,
    ORDER_FAILURE_STATES,
    ACMEAuthorization,
    ACMEChallenge,
    Challenge,
    ChallengeSpec,
    ChallengeType,
    Order,
    OrderStatus,
    as_state,
)
from certkeeper.api.durations import parse_duration
from certkeeper.api.meta import ObjectMeta
from certkeeper.api.names import compute_name
from certkeeper.controllers.certificates.ari import ari_enabled
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import controller_ref, now_seconds, status_write
from certkeeper.issuers.base import GenericIssuer
from certkeeper.pki.pem import load_pem_certificate_request
from certkeeper.runtime.controller import Result, RetryAfter
from certkeeper.runtime.events import Event
from certkeeper.runtime.outcome import Delete, Outcome, Write, apply_outcome
from certkeeper.store.resources import CHALLENGES, ORDERS, encode

log = logging.getLogger(__name__)

#: How soon an Order whose challenges are all final, but which the CA still calls pending, is looked at.
REQUEUE_PERIOD = 5.0


class OrderError(Exception):
    """A retryable failure (transport, 5xx); the controller backs off."""


def _is_client_error(exc: AcmeError) -> bool:
    if isinstance(exc, NotSupported):
        return True
    return isinstance(exc, AcmeProblem) and 400 <= exc.status < 500


def _state(order: Order) -> str:
    return (order.status.state if order.status else None) or ""


def _with(order: Order, **changes: object) -> Order:
    status = msgspec.structs.replace(order.status or OrderStatus(), **changes)
    return msgspec.structs.replace(order, status=status)


def _identifiers(order: Order) -> list[Identifier]:
    dns = set(order.spec.dns_names or ())
    ips = set(order.spec.ip_addresses or ())
    cn = order.spec.common_name or ""
    if cn:
        try:
            ipaddress.ip_address(cn)
            ips.add(cn)
        except ValueError:
            if "." in cn:
                dns.add(cn)
    return [Identifier.dns(name) for name in sorted(dns)] + [Identifier.ip(ip) for ip in sorted(ips)]


def challenge_key(client: AcmeClient, challenge_type: str, token: str) -> str:
    """HTTP-01: the key authorisation; DNS-01: base64url(SHA-256(key authorisation))."""
    authorization = key_authorization(token, client.key)
    if challenge_type == "DNS-01":
        digest = hashlib.sha256(authorization.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return authorization


class OrderController:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def reconcile(self, key: str) -> Result | None:
        order = self.ctx.order(key)
        if order is None or order.metadata.deletion_timestamp is not None:
            return None
        outcome, requeue = await self.decide(order)
        if not outcome.is_noop:
            raw = self.ctx.orders.get_raw(key) if self.ctx.orders is not None else None
            await apply_outcome(self.ctx.store, ORDERS, raw or encode(order), outcome, self.ctx.recorder)
        return Result(requeue_after=requeue)

    def _client(self, order: Order) -> tuple[GenericIssuer, AcmeClient]:
        issuer = self.ctx.issuer_for(order.spec.issuer_ref, order.namespace)
        if issuer is None or issuer.spec.acme is None:
            raise OrderError(f'error reading (cluster)issuer "{order.spec.issuer_ref.name}": not found')
        client = self.ctx.acme_accounts.get(issuer) if self.ctx.acme_accounts is not None else None
        if client is None:
            raise RetryAfter(5.0, "ACME client for issuer not initialised")
        return issuer, client

    def _failure(self, order: Order, state: str, reason: str) -> Outcome:
        updated = _with(order, state=state, reason=reason, failure_time=now_seconds(self.ctx.clock))
        return Outcome(status=status_write(updated))

    async def decide(self, order: Order) -> tuple[Outcome, float | None]:
        if _state(order) in ORDER_FAILURE_STATES:
            return Outcome(), None
        issuer, client = self._client(order)
        status = order.status or OrderStatus()
        try:
            if not status.url:
                return await self._create(order, issuer, client), None
            if not status.finalize_url:
                return self._status_from(order, await client.get_order(status.url)), None
            if any(a.identifier is None for a in status.authorizations or ()):
                return await self._authorization_metadata(order, client), None
            if status.state == "valid" and not status.certificate:
                return await self._fetch_certificate(order, issuer, client, status.url), None
            if status.state == "valid":
                return self._delete_challenges(order, keep=()), None
            return await self._progress(order, issuer, client)
        except (AcmeProblem, NotSupported) as exc:
            if _is_client_error(exc):
                verb = "create" if not status.url else "retrieve"
                message = (
                    f"Failed to {verb} Order: {exc}"
                    if verb == "create"
                    else f"Failed to retrieve Order resource: {exc}"
                )
                return self._failure(order, "errored", message), None
            raise OrderError(str(exc)) from exc

    async def _create(self, order: Order, issuer: GenericIssuer, client: AcmeClient) -> Outcome:
        acme = issuer.spec.acme
        assert acme is not None
        not_after = None
        if order.spec.duration:
            not_after = self.ctx.clock.now() + parse_duration(order.spec.duration)
        replaces = order.spec.replaces if ari_enabled(issuer, self.ctx) else None
        try:
            resource = await client.new_order(
                _identifiers(order), not_after=not_after, profile=order.spec.profile, replaces=replaces
            )
        except (AlreadyReplaced, Malformed):
            if not replaces:
                raise
            # The CA will not take this certificate as replaced (already replaced, or unknown): order anyway.
            resource = await client.new_order(_identifiers(order), not_after=not_after, profile=order.spec.profile)
        return Outcome(status=status_write(self._from_resource(order, resource)))

    def _from_resource(self, order: Order, resource: OrderResource) -> Order:
        status = order.status or OrderStatus()
        authorizations = status.authorizations or [ACMEAuthorization(url=url) for url in resource.order.authorizations]
        return _with(
            order,
            url=resource.uri,
            finalize_url=resource.order.finalize,
            authorizations=authorizations,
            state=as_state(str(resource.order.status)),
        )

    def _status_from(self, order: Order, resource: OrderResource) -> Outcome:
        updated = self._from_resource(order, resource)
        if updated.status == order.status:
            return Outcome()
        if (updated.status.state if updated.status else None) in ORDER_FAILURE_STATES:
            problem = resource.order.error
            reason = str(problem.to_exception()) if problem is not None else ""
            updated = _with(updated, reason=reason, failure_time=now_seconds(self.ctx.clock))
        return Outcome(status=status_write(updated))

    async def _authorization_metadata(self, order: Order, client: AcmeClient) -> Outcome:
        complete = []
        for authz in (order.status.authorizations if order.status else None) or []:
            if authz.identifier is not None:
                complete.append(authz)
                continue
            resource = await client.get_authorization(authz.url)
            found = resource.authorization
            complete.append(
                ACMEAuthorization(
                    url=authz.url,
                    identifier=found.identifier.value,
                    wildcard=bool(found.wildcard) if found.wildcard is not None else None,
                    initial_state=as_state(str(found.status)),
                    challenges=[ACMEChallenge(url=c.url, token=c.token or "", type=c.type) for c in found.challenges],
                )
            )
        return Outcome(status=status_write(_with(order, authorizations=complete)))

    def _required_challenges(self, order: Order, issuer: GenericIssuer, client: AcmeClient) -> list[Challenge] | str:
        acme = issuer.spec.acme
        assert acme is not None
        required = []
        for authz in (order.status.authorizations if order.status else None) or []:
            if authz.initial_state == "valid":
                continue
            identifier = authz.identifier or ""
            selection = pick_solver(
                domain_to_match(identifier, wildcard=bool(authz.wildcard)),
                authz.challenges or [],
                acme.solvers or [],
                order.metadata.labels,
            )
            if selection is None:
                return f"no configured challenge solvers can be used for this challenge ({identifier})"
            challenge_type: ChallengeType = "HTTP-01" if selection.challenge.type == "http-01" else "DNS-01"
            try:
                solver = apply_http01_overrides(selection.solver, order.metadata.annotations, order.namespace or "")
            except SolverConfigError as exc:
                return f"{exc} ({identifier})"
            spec = ChallengeSpec(
                url=selection.challenge.url,
                authorization_url=authz.url,
                dns_name=identifier,
                wildcard=bool(authz.wildcard),
                type=challenge_type,
                token=selection.challenge.token,
                key=challenge_key(client, challenge_type, selection.challenge.token),
                solver=solver,
                issuer_ref=order.spec.issuer_ref,
            )
            # cert-manager hashes Go's JSON of the spec; certkeeper hashes its own canonical JSON of the same
            # fields, so names are stable for certkeeper (not byte-identical to cert-manager's for challenges).
            name = compute_name(order.name, msgspec.json.encode(spec))
            required.append(
                Challenge(
                    api_version=Challenge.API_VERSION,
                    metadata=ObjectMeta(
                        name=name,
                        namespace=order.namespace,
                        labels=dict(order.metadata.labels) if order.metadata.labels else None,
                        owner_references=[controller_ref(order)],
                    ),
                    spec=spec,
                )
            )
        return required

    def _delete_challenges(self, order: Order, *, keep: tuple[str, ...]) -> Outcome:
        owned = self.ctx.challenges_owned_by(order.metadata.uid or "")
        return Outcome(
            deletes=tuple(
                Delete(resource=CHALLENGES, name=c.name, namespace=c.namespace, uid=c.metadata.uid)
                for c in owned
                if c.name not in keep
            )
        )

    async def _progress(self, order: Order, issuer: GenericIssuer, client: AcmeClient) -> tuple[Outcome, float | None]:
        required = self._required_challenges(order, issuer, client)
        if isinstance(required, str):
            message = (
                f"Failed to determine a valid solver configuration for the set of domains on the Order: {required}"
            )
            return Outcome(events=(Event(type="Warning", reason="Solver", message=message),)), None
        owned = {c.name: c for c in self.ctx.challenges_owned_by(order.metadata.uid or "")}
        missing = [c for c in required if c.name not in owned]
        if missing:
            return Outcome(
                creates=tuple(Write(resource=CHALLENGES, object=encode(c)) for c in missing),
                events=tuple(
                    Event(
                        type="Normal",
                        reason="Created",
                        message=f'Created Challenge resource "{c.name}" for domain "{c.spec.dns_name}"',
                    )
                    for c in missing
                ),
            ), None
        names = tuple(c.name for c in required)
        if any(name not in names for name in owned):
            return self._delete_challenges(order, keep=names), None
        if _state(order) == "ready":
            return await self._finalize(order, issuer, client), None
        states = [(c.status.state if c.status else None) for c in owned.values()]
        failed = any(s in ("invalid", "expired", "errored") for s in states)
        final = all(s in CHALLENGE_FINAL_STATES for s in states)
        if not failed and not final:
            return Outcome(), None
        status = order.status
        assert status is not None
        assert status.url
        resource = await client.get_order(status.url)
        if not failed and str(resource.order.status) == "pending":
            if _state(order) != "pending":
                return Outcome(status=status_write(_with(order, state="pending"))), REQUEUE_PERIOD
            return Outcome(), REQUEUE_PERIOD
        return self._status_from(order, resource), None

    async def _finalize(self, order: Order, issuer: GenericIssuer, client: AcmeClient) -> Outcome:
        status = order.status
        assert status is not None
        assert status.url
        csr = load_pem_certificate_request(order.spec.request, limits=self.ctx.options.pem_limits)
        current = await client.get_order(status.url)
        try:
            resource = await client.finalize_order(current, csr.public_bytes(Encoding.DER))
        except OrderFailed as exc:
            return self._failure(order, "invalid", str(exc))
        updated = self._from_resource(order, resource)
        return await self._fetch_certificate(updated, issuer, client, status.url)

    async def _fetch_certificate(self, order: Order, issuer: GenericIssuer, client: AcmeClient, url: str) -> Outcome:
        acme = issuer.spec.acme
        assert acme is not None
        resource = await client.get_order(url)
        if resource.order.certificate is None:
            return Outcome(status=status_write(self._from_resource(order, resource)))
        chain = await client.fetch_preferred_chain(resource.order.certificate, acme.preferred_chain or "")
        updated = _with(self._from_resource(order, resource), certificate=chain.pem)
        return Outcome(
            status=status_write(updated),
            events=(Event(type="Normal", reason="Complete", message="Order completed successfully"),),
        )
