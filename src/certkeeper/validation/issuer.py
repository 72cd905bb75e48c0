"""cert-manager's admission rules for Issuers and ClusterIssuers: every error, and the warnings. Pure.

Both kinds share one spec and one set of rules, and create and update apply the same rules.
Exactly one issuer type; then per type: ACME (:mod:`certkeeper.validation.acme_issuer`, with its
solvers), CA, SelfSigned (nothing to check), Vault (server, a path without ``..`` segments, one CA
source, client certificate and key together, an auth method with what it needs) and Venafi /
CyberArk (a zone, exactly one of tpp, cloud, ngts). Vault's mount paths are refused when they
contain a ``..`` segment, so that an issuer cannot point cert-manager's token at another Vault API.

Follows cert-manager's ``internal/apis/certmanager/validation/{issuer,clusterissuer}.go``; the
field paths are cert-manager's, including ``ca.ocspServer`` and Vault's ``clientCertificate.path``
/ ``kubernetes.path`` (the wire names are ``ocspServers`` and ``mountPath``).
"""

from __future__ import annotations

from typing import Final

from certkeeper.api import field as fe
from certkeeper.api.certmanager import (
    CAIssuer,
    ClusterIssuer,
    Issuer,
    IssuerSpec,
    VaultAuth,
    VaultIssuer,
    VenafiIssuer,
    VenafiTPP,
)
from certkeeper.api.features import FeatureGates
from certkeeper.api.field import ErrorList, FieldError, FieldPath, ValidationResult
from certkeeper.validation.acme_issuer import ca_bundle_error, validate_acme_issuer
from certkeeper.validation.decoding import undecodable_durations

_DOT_DOT: Final = "must not contain '..' path segments"
#: What field errors print instead of a CA bundle or Secret reference (never worth echoing).
SNIP: Final = "<snip>"


def contains_dot_dot_segment(path: str | None) -> bool:
    """Whether ``path`` has a literal ``..`` segment (``a/../b``, ``../x``, ``..``).

    Only literal segments: a stricter canonical-path check would refuse working issuers whose paths
    merely have double or trailing slashes.
    """
    return ".." in (path or "").split("/")


def validate_ca_issuer(ca: CAIssuer, path: FieldPath) -> list[FieldError]:
    """A Secret name, and no empty OCSP or issuing-certificate URL."""
    errors: list[FieldError] = []
    if not ca.secret_name:
        errors.append(fe.required(path.child("secretName")))
    for i, url in enumerate(ca.ocsp_servers or ()):
        if not url:
            detail = "must be a valid URL, e.g., http://ocsp.int-x3.letsencrypt.org"
            errors.append(fe.invalid(path.child("ocspServer").index(i), url, detail))
    for i, url in enumerate(ca.issuing_certificate_urls or ()):
        if not url:
            errors.append(fe.invalid(path.child("issuingCertificateURLs").index(i), url, "must be a valid URL"))
    return errors


def validate_vault_auth(auth: VaultAuth, path: FieldPath) -> list[FieldError]:
    """At least one auth method, each complete. Several are tolerated: the first one set is used."""
    errors: list[FieldError] = []
    methods = 0
    if auth.token_secret_ref is not None:
        methods += 1
    if auth.app_role is not None:
        methods += 1
        role = auth.app_role
        if not role.role_id:
            errors.append(fe.required(path.child("appRole", "roleId")))
        if not role.secret_ref.name:
            errors.append(fe.required(path.child("appRole", "secretRef", "name")))
        if contains_dot_dot_segment(role.path):
            errors.append(fe.invalid(path.child("appRole", "path"), role.path, _DOT_DOT))
    if auth.client_certificate is not None:
        methods += 1
        mount_path = auth.client_certificate.mount_path or ""
        if contains_dot_dot_segment(mount_path):
            errors.append(fe.invalid(path.child("clientCertificate", "path"), mount_path, _DOT_DOT))
    if auth.kubernetes is not None:
        methods += 1
        kubernetes, kubernetes_path = auth.kubernetes, path.child("kubernetes")
        if not kubernetes.role:
            errors.append(fe.required(kubernetes_path.child("role")))
        mount_path = kubernetes.mount_path or ""
        if contains_dot_dot_segment(mount_path):
            errors.append(fe.invalid(kubernetes_path.child("path"), mount_path, _DOT_DOT))
        sources = 0
        if kubernetes.secret_ref is not None and kubernetes.secret_ref.name:
            sources += 1
        if kubernetes.service_account_ref is not None:
            sources += 1
            if not kubernetes.service_account_ref.name:
                errors.append(fe.required(kubernetes_path.child("serviceAccountRef", "name")))
        if sources == 0:
            errors.append(fe.required(kubernetes_path, "please supply one of: secretRef, serviceAccountRef"))
        if sources > 1:
            errors.append(fe.forbidden(kubernetes_path, "please supply one of: secretRef, serviceAccountRef"))
    if auth.aws is not None:
        methods += 1
        aws, aws_path = auth.aws, path.child("aws")
        if not aws.role:
            errors.append(fe.required(aws_path.child("role")))
        mount_path = aws.mount_path or ""
        if contains_dot_dot_segment(mount_path):
            errors.append(fe.invalid(aws_path.child("mountPath"), mount_path, _DOT_DOT))
        if aws.service_account_ref is not None:
            if not aws.service_account_ref.name:
                errors.append(fe.required(aws_path.child("serviceAccountRef", "name")))
            if not aws.iam_role_arn:
                detail = "iamRoleArn is required when using serviceAccountRef for IRSA"
                errors.append(fe.required(aws_path.child("iamRoleArn"), detail))
    if not methods:
        detail = "please supply one of: appRole, kubernetes, tokenSecretRef, clientCertificate, aws"
        errors.append(fe.required(path, detail))
    return errors


def validate_vault_issuer(vault: VaultIssuer, path: FieldPath) -> list[FieldError]:
    """Server, a safe path, a usable CA bundle, client certificate and key together, and auth."""
    errors: list[FieldError] = []
    if not vault.server:
        errors.append(fe.required(path.child("server")))
    if not vault.path:
        errors.append(fe.required(path.child("path")))
    elif contains_dot_dot_segment(vault.path):
        errors.append(fe.invalid(path.child("path"), vault.path, _DOT_DOT))
    if vault.ca_bundle:
        reason = ca_bundle_error(vault.ca_bundle)
        if reason is not None:
            errors.append(fe.invalid(path.child("caBundle"), SNIP, reason))
        if vault.ca_bundle_secret_ref is not None:
            detail = "specified caBundle and caBundleSecretRef cannot be used together"
            errors.append(fe.invalid(path.child("caBundle"), SNIP, detail))
            detail = "specified caBundleSecretRef and caBundle cannot be used together"
            errors.append(fe.invalid(path.child("caBundleSecretRef"), vault.ca_bundle_secret_ref.name, detail))
    if vault.client_cert_secret_ref is not None and vault.client_key_secret_ref is None:
        detail = "clientKeySecretRef must be provided when defining the clientCertSecretRef"
        errors.append(fe.invalid(path.child("clientKeySecretRef"), SNIP, detail))
    elif vault.client_cert_secret_ref is None and vault.client_key_secret_ref is not None:
        detail = "clientCertSecretRef must be provided when defining the clientKeySecretRef"
        errors.append(fe.invalid(path.child("clientCertSecretRef"), SNIP, detail))
    errors.extend(validate_vault_auth(vault.auth, path.child("auth")))
    return errors


def _validate_tpp(tpp: VenafiTPP, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    if not tpp.url:
        errors.append(fe.required(path.child("url")))
    if tpp.ca_bundle and tpp.ca_bundle_secret_ref is not None:
        detail = "may not specify more than one of caBundle/caBundleSecretRef as TPP CA Bundle"
        errors.append(fe.forbidden(path, detail))
    return errors


def validate_venafi_issuer(venafi: VenafiIssuer, path: FieldPath) -> list[FieldError]:
    """A zone and exactly one of tpp, cloud (nothing more to check) and ngts."""
    errors: list[FieldError] = []
    if not venafi.zone:
        errors.append(fe.required(path.child("zone")))
    kinds = 0
    if venafi.tpp is not None:
        kinds += 1
        errors.extend(_validate_tpp(venafi.tpp, path.child("tpp")))
    if venafi.cloud is not None:
        kinds += 1
    if venafi.ngts is not None:
        kinds += 1
        if not venafi.ngts.tsg_id:
            errors.append(fe.required(path.child("ngts", "tsgID")))
        if not venafi.ngts.credentials_ref.name:
            errors.append(fe.required(path.child("ngts", "credentialsRef", "name")))
    if kinds == 0:
        errors.append(fe.required(path, "please supply one of: tpp, cloud, ngts"))
    if kinds > 1:
        errors.append(fe.forbidden(path, "please supply one of: tpp, cloud, ngts"))
    return errors


def validate_issuer_spec(spec: IssuerSpec, path: FieldPath) -> tuple[list[FieldError], list[str]]:
    """(errors, warnings) of an issuer configuration: exactly one type, then that type's rules.

    Types are taken in cert-manager's order (acme, ca, selfSigned, vault, venafi); every type after
    the first is reported as one too many and not checked further.
    """
    errors: list[FieldError] = []
    warnings: list[str] = []
    configured = 0

    def claim(name: str) -> bool:
        nonlocal configured
        if configured:
            errors.append(fe.forbidden(path.child(name), "may not specify more than one issuer type"))
            return False
        configured += 1
        return True

    if spec.acme is not None and claim("acme"):
        acme_errors, acme_warnings = validate_acme_issuer(spec.acme, path.child("acme"))
        errors.extend(acme_errors)
        warnings.extend(acme_warnings)
    if spec.ca is not None and claim("ca"):
        errors.extend(validate_ca_issuer(spec.ca, path.child("ca")))
    if spec.self_signed is not None:
        claim("selfSigned")  # nothing to check
    if spec.vault is not None and claim("vault"):
        errors.extend(validate_vault_issuer(spec.vault, path.child("vault")))
    if spec.venafi is not None and claim("venafi"):
        errors.extend(validate_venafi_issuer(spec.venafi, path.child("venafi")))
    if not configured:
        errors.append(fe.required(path, "at least one issuer must be configured"))
    return errors, warnings


def _result(obj: Issuer | ClusterIssuer) -> ValidationResult:
    undecodable = undecodable_durations(obj)
    if undecodable:
        return ValidationResult(tuple(undecodable))
    collected = ErrorList()
    errors, warnings = validate_issuer_spec(obj.spec, FieldPath("spec"))
    collected.extend(errors)
    for warning in warnings:
        collected.warn(warning)
    return collected.result()


def validate_issuer_create(obj: Issuer, gates: FeatureGates) -> ValidationResult:
    """The webhook's answer to creating an Issuer."""
    del gates  # no issuer rule depends on a feature gate
    return _result(obj)


def validate_issuer_update(old: Issuer, new: Issuer, gates: FeatureGates) -> ValidationResult:
    """The webhook's answer to updating an Issuer: the create rules on ``new``."""
    del old, gates
    return _result(new)


def validate_cluster_issuer_create(obj: ClusterIssuer, gates: FeatureGates) -> ValidationResult:
    """The webhook's answer to creating a ClusterIssuer (the Issuer rules)."""
    del gates
    return _result(obj)


def validate_cluster_issuer_update(old: ClusterIssuer, new: ClusterIssuer, gates: FeatureGates) -> ValidationResult:
    """The webhook's answer to updating a ClusterIssuer: the create rules on ``new``."""
    del old, gates
    return _result(new)


__all__ = [
    "SNIP",
    "contains_dot_dot_segment",
    "validate_ca_issuer",
    "validate_cluster_issuer_create",
    "validate_cluster_issuer_update",
    "validate_issuer_create",
    "validate_issuer_spec",
    "validate_issuer_update",
    "validate_vault_auth",
    "validate_vault_issuer",
    "validate_venafi_issuer",
]
