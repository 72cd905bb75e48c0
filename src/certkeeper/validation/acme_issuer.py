"""cert-manager's admission rules for an ACME issuer and its challenge solvers. Pure.

Follows ``ValidateACMEIssuerConfig``, ``ValidateACMEIssuerChallengeSolverConfig`` and the HTTP-01
validators of cert-manager's ``internal/apis/certmanager/validation/issuer.go`` (DNS-01 is in
:mod:`certkeeper.validation.dns01`), including their quirks: the HTTPRoute solver is reported under
``http01.gateway``, and "more than one HTTP01 solver" is a "Required" error. Setting the deprecated
``externalAccountBinding.keyAlgorithm`` is allowed with a warning.
"""

from __future__ import annotations

from typing import Final

from cryptography import x509

from certkeeper.api import field as fe
from certkeeper.api.acme import ACMEIssuer
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolver,
    ACMEChallengeSolverHTTP01,
    ACMEChallengeSolverHTTP01GatewayHTTPRoute,
    ACMEChallengeSolverHTTP01Ingress,
)
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.pki.errors import PkiError
from certkeeper.pki.pem import MAX_BUNDLE_SIZE, decode_pem_blocks
from certkeeper.validation.common import parse_duration_field, validate_secret_key_selector
from certkeeper.validation.dns01 import validate_dns01
from certkeeper.validation.kube import is_dns1123_subdomain

#: The warning for a set ``externalAccountBinding.keyAlgorithm`` (cert-manager's text, its field name included).
DEPRECATED_EAB_KEY_ALGORITHM_WARNING: Final = (
    "ACME issuer spec field 'externalAccount.keyAlgorithm' is deprecated. The value of this field will be ignored."
)
_SERVICE_TYPES: Final = ("", "ClusterIP", "NodePort")
_SERVICE_TYPE_MESSAGE: Final = 'must be empty, "ClusterIP" or "NodePort"'
_MUTUALLY_EXCLUSIVE: Final = "caBundle and skipTLSVerify are mutually exclusive and cannot both be set"


def ca_bundle_error(bundle: bytes) -> str | None:
    """Why ``bundle`` holds no certificate Go's ``CertPool.AppendCertsFromPEM`` would take, or None.

    Like Go, blocks that are not ``CERTIFICATE`` or do not parse are skipped. Unlike Go, the bundle
    is size-checked first (pki's trust bundle limit), so a huge one costs one comparison.
    """
    try:
        blocks = decode_pem_blocks(bundle, max_size=MAX_BUNDLE_SIZE)
    except PkiError as exc:
        return str(exc)
    for block in blocks:
        if block.type != "CERTIFICATE":
            continue
        try:
            x509.load_der_x509_certificate(block.der)
        except ValueError:
            continue
        return None
    return "cert bundle didn't contain any valid certificates"


def _validate_ingress(ingress: ACMEChallengeSolverHTTP01Ingress, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    chosen = (ingress.class_ is not None) + (ingress.ingress_class_name is not None) + bool(ingress.name)
    if chosen > 1:
        errors.append(fe.forbidden(path, "only one of 'ingressClassName', 'name' or 'class' should be specified"))
    if ingress.ingress_class_name is not None:
        # Stricter than "class", which was once free text ("azure/application-gateway").
        problems = is_dns1123_subdomain(ingress.ingress_class_name)
        if problems:
            detail = "must be a valid IngressClass name: " + ", ".join(problems)
            errors.append(fe.invalid(path.child("ingressClassName"), ingress.ingress_class_name, detail))
    service_type = ingress.service_type or ""
    if service_type not in _SERVICE_TYPES:
        errors.append(fe.invalid(path.child("serviceType"), service_type, _SERVICE_TYPE_MESSAGE))
    return errors


def _validate_gateway(route: ACMEChallengeSolverHTTP01GatewayHTTPRoute, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    service_type = route.service_type or ""
    if service_type not in _SERVICE_TYPES:
        errors.append(fe.invalid(path.child("serviceType"), service_type, _SERVICE_TYPE_MESSAGE))
    # parentRefs may be empty (annotations can supply them); a given one needs both kind and name.
    # cert-manager stops at the first bad parentRef.
    for i, ref in enumerate(route.parent_refs or ()):
        ref_path = path.child("parentRefs").index(i)
        if ref.kind is not None and not ref.name:
            errors.append(fe.required(ref_path.child("name"), "name is required when kind is specified"))
            break
        if ref.name and ref.kind is None:
            errors.append(fe.required(ref_path.child("kind"), "kind is required when name is specified"))
            break
    return errors


def _validate_http01(http01: ACMEChallengeSolverHTTP01, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    defined = 0
    if http01.ingress is not None:
        defined += 1
        errors.extend(_validate_ingress(http01.ingress, path.child("ingress")))
    if http01.gateway_http_route is not None:
        defined += 1
        errors.extend(_validate_gateway(http01.gateway_http_route, path.child("gateway")))
    if defined == 0:
        errors.append(fe.required(path, "no HTTP01 solver type configured"))
    if defined > 1:
        errors.append(fe.required(path, "only 1 HTTP01 solver type may be configured"))
    return errors


def validate_solver(solver: ACMEChallengeSolver, path: FieldPath) -> list[FieldError]:
    """One entry of ``solvers``: exactly one of http01/dns01, configured, and no negative wait."""
    errors: list[FieldError] = []
    kinds = 0
    if solver.http01 is not None:
        kinds += 1
        errors.extend(_validate_http01(solver.http01, path.child("http01")))
    if solver.dns01 is not None:
        if kinds:
            errors.append(fe.forbidden(path, "may not specify more than one solver type in a single solver"))
        else:
            kinds += 1
            errors.extend(validate_dns01(solver.dns01, path.child("dns01")))
    if not kinds:
        errors.append(fe.required(path, "no solver type configured"))
    if solver.wait_instead_of_self_check is not None:
        wait_path = path.child("waitInsteadOfSelfCheck")
        wait = parse_duration_field(solver.wait_instead_of_self_check, wait_path, errors)
        if wait is not None and wait < 0:
            errors.append(fe.invalid(wait_path, wait, "waitInsteadOfSelfCheck must not be negative"))
    return errors


def validate_acme_issuer(acme: ACMEIssuer, path: FieldPath) -> tuple[list[FieldError], list[str]]:
    """(errors, warnings) of an ``acme`` issuer configuration."""
    errors: list[FieldError] = []
    warnings: list[str] = []
    if acme.ca_bundle and acme.skip_tls_verify:
        errors.append(fe.invalid(path.child("caBundle"), "", _MUTUALLY_EXCLUSIVE))
        errors.append(fe.invalid(path.child("skipTLSVerify"), True, _MUTUALLY_EXCLUSIVE))
    if acme.ca_bundle:
        reason = ca_bundle_error(acme.ca_bundle)
        if reason is not None:
            errors.append(fe.invalid(path.child("caBundle"), "", reason))
    if not acme.private_key_secret_ref.name:
        detail = "private key secret name is a required field"
        errors.append(fe.required(path.child("privateKeySecretRef", "name"), detail))
    if not acme.server:
        errors.append(fe.required(path.child("server"), "acme server URL is a required field"))
    binding = acme.external_account_binding
    if binding is not None:
        binding_path = path.child("externalAccountBinding")
        if not binding.key_id:
            detail = "the keyID field is required when using externalAccountBinding"
            errors.append(fe.required(binding_path.child("keyID"), detail))
        errors.extend(validate_secret_key_selector(binding.key_secret_ref, binding_path.child("keySecretRef")))
        if binding.key_algorithm:
            warnings.append(DEPRECATED_EAB_KEY_ALGORITHM_WARNING)
    for i, solver in enumerate(acme.solvers or ()):
        errors.extend(validate_solver(solver, path.child("solvers").index(i)))
    return errors, warnings


__all__ = ["DEPRECATED_EAB_KEY_ALGORITHM_WARNING", "ca_bundle_error", "validate_acme_issuer", "validate_solver"]
