"""cert-manager's admission rules for an ACME solver's DNS-01 configuration: one provider, complete. Pure.

Follows ``ValidateACMEChallengeSolverDNS01`` and ``util.ValidNameserver`` / ``ValidDNS01Nameserver``
of cert-manager's ``internal/apis/certmanager/validation/``, with their field paths (which, for a
few Secret references, are cert-manager's Go field names rather than the wire names: Akamai's
``accessToken``, ``clientSecret``, ``clientToken``) and messages. As upstream, Akamai and acme-dns
do not take part in the "more than one provider" check.
"""

from __future__ import annotations

from typing import Final

from certkeeper.api import field as fe
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolverDNS01,
    ACMEIssuerDNS01ProviderAzureDNS,
    ACMEIssuerDNS01ProviderCloudflare,
    ACMEIssuerDNS01ProviderRFC2136,
    ACMEIssuerDNS01ProviderRoute53,
)
from certkeeper.api.cmmeta import SecretKeySelector
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.validation.common import validate_secret_key_selector as validate_sks
from certkeeper.validation.gonet import GoParseError, request_uri_host, split_host_port

#: TSIG algorithms the RFC 2136 provider implements (matched case-insensitively).
SUPPORTED_TSIG_ALGORITHMS: Final = ("HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512")
AZURE_ENVIRONMENTS: Final = ("AzurePublicCloud", "AzureChinaCloud", "AzureGermanCloud", "AzureUSGovernmentCloud")
DEFAULT_RFC2136_PORT: Final = "53"
_MORE_THAN_ONE: Final = "may not specify more than one provider type"
_NAMESERVER_FORM: Final = (
    "nameserver must be set in the form host:port where host is an IPv4 address, an enclosed IPv6 address or a "
    "hostname and port is an optional port number."
)


def valid_rfc2136_nameserver(nameserver: str) -> str:
    """``host:port`` for an RFC 2136 nameserver (port 53 when absent); :class:`GoParseError` if malformed."""
    nameserver = nameserver.strip()
    if not nameserver:
        raise GoParseError("RFC2136 nameserver missing")
    try:
        host, port = split_host_port(nameserver)
    except GoParseError as exc:
        if "missing port" not in str(exc):
            raise GoParseError(f"RFC2136 nameserver is invalid: address {nameserver}: {exc}") from exc
        host, port = nameserver.strip("[]"), ""
    if not host:
        raise GoParseError(f"RFC2136 nameserver has no host defined, {nameserver}")
    port = port or DEFAULT_RFC2136_PORT
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def dns01_nameserver_error(nameserver: str) -> str | None:
    """Why ``nameserver`` is no ``<ip>:<port>`` or ``https://`` (DoH) resolver, or None."""
    if nameserver.startswith("https://"):
        try:
            host = request_uri_host(nameserver)
        except GoParseError:
            host = ""
        return None if host else "must be in the format https://<DoH RFC 8484 server address>"
    try:
        split_host_port(nameserver)
    except GoParseError:
        return "must be in the format <ip address>:<port>"
    return None


def _validate_azure(azure: ACMEIssuerDNS01ProviderAzureDNS, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    identity = azure.managed_identity
    if azure.client_id or azure.tenant_id or azure.client_secret_secret_ref is not None:
        # A service principal: all three of its fields, and no managed identity.
        if not azure.client_id:
            errors.append(fe.required(path.child("clientID")))
        if azure.client_secret_secret_ref is None:
            errors.append(fe.required(path.child("clientSecretSecretRef")))
        else:
            errors.extend(validate_sks(azure.client_secret_secret_ref, path.child("clientSecretSecretRef")))
        if not azure.tenant_id:
            errors.append(fe.required(path.child("tenantID")))
        if identity is not None:
            detail = "managed identity cannot be used at the same time as clientID, clientSecretSecretRef or tenantID"
            errors.append(fe.forbidden(path.child("managedIdentity"), detail))
    elif identity is not None:
        identity_path = path.child("managedIdentity")
        if identity.client_id and identity.resource_id:
            detail = "managedIdentityClientID and managedIdentityResourceID cannot both be specified"
            errors.append(fe.forbidden(identity_path, detail))
        if identity.tenant_id and identity.resource_id:
            detail = "managedIdentityTenantID and managedIdentityResourceID cannot both be specified"
            errors.append(fe.forbidden(identity_path, detail))
        if identity.tenant_id and not identity.client_id:
            detail = "managedIdentityClientID is required when using managedIdentityTenantID"
            errors.append(fe.required(identity_path, detail))
    if not azure.subscription_id:
        errors.append(fe.required(path.child("subscriptionID")))
    if not azure.resource_group_name:
        errors.append(fe.required(path.child("resourceGroupName")))
    environment = azure.environment or ""
    if environment and environment not in AZURE_ENVIRONMENTS:
        detail = "must be either empty or one of {}, {}, {}, or {}".format(*AZURE_ENVIRONMENTS)
        errors.append(fe.invalid(path.child("environment"), environment, detail))
    return errors


def _validate_cloudflare(cloudflare: ACMEIssuerDNS01ProviderCloudflare, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    key, token = cloudflare.api_key_secret_ref, cloudflare.api_token_secret_ref
    if key is not None:
        errors.extend(validate_sks(key, path.child("apiKeySecretRef")))
    if token is not None:
        errors.extend(validate_sks(token, path.child("apiTokenSecretRef")))
    if key is not None and token is not None:
        errors.append(fe.forbidden(path, "apiKeySecretRef and apiTokenSecretRef cannot both be specified"))
    if key is None and token is None:
        errors.append(fe.required(path, "apiKeySecretRef or apiTokenSecretRef is required"))
    if not cloudflare.email and key is not None:
        errors.append(fe.required(path.child("email")))
    return errors


def _validate_route53(route53: ACMEIssuerDNS01ProviderRoute53, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    # Neither key is required: ambient credentials are valid.
    if route53.access_key_id and route53.access_key_id_secret_ref is not None:
        # cert-manager reports this conflict as a "Required" error.
        errors.append(fe.required(path, "accessKeyID and accessKeyIDSecretRef cannot both be specified"))
    if route53.access_key_id_secret_ref is not None:
        errors.extend(validate_sks(route53.access_key_id_secret_ref, path.child("accessKeyIDSecretRef")))
    return errors


def _validate_rfc2136(rfc2136: ACMEIssuerDNS01ProviderRFC2136, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    if not rfc2136.nameserver:
        errors.append(fe.required(path.child("nameserver")))
    else:
        try:
            valid_rfc2136_nameserver(rfc2136.nameserver)
        except GoParseError:
            errors.append(fe.invalid(path.child("nameserver"), rfc2136.nameserver, _NAMESERVER_FORM))
    algorithm = rfc2136.tsig_algorithm or ""
    if algorithm and algorithm.upper() not in SUPPORTED_TSIG_ALGORITHMS:
        # cert-manager reports the empty string, not the value given.
        errors.append(fe.not_supported(path.child("tsigAlgorithm"), "", SUPPORTED_TSIG_ALGORITHMS))
    secret = rfc2136.tsig_secret_secret_ref or SecretKeySelector(name="")
    secret_errors = validate_sks(secret, path.child("tsigSecretSecretRef"))
    if rfc2136.tsig_key_name:
        errors.extend(secret_errors)
    if not secret_errors and not rfc2136.tsig_key_name:
        errors.append(fe.required(path.child("tsigKeyName")))
    return errors


def validate_dns01(dns01: ACMEChallengeSolverDNS01, path: FieldPath) -> list[FieldError]:
    """Every error in one solver's ``dns01`` block."""
    errors: list[FieldError] = []
    strategy = dns01.cname_strategy or ""
    if strategy and strategy not in ("None", "Follow"):
        errors.append(fe.invalid(path.child("cnameStrategy"), strategy, 'must be one of "None" or "Follow"'))
    for i, nameserver in enumerate(dns01.nameservers or ()):
        reason = dns01_nameserver_error(nameserver)
        if reason is not None:
            errors.append(fe.invalid(path.child("nameservers").index(i), nameserver, reason))

    providers = 0
    if dns01.akamai is not None:
        providers += 1
        akamai, akamai_path = dns01.akamai, path.child("akamai")
        errors.extend(validate_sks(akamai.access_token_secret_ref, akamai_path.child("accessToken")))
        errors.extend(validate_sks(akamai.client_secret_secret_ref, akamai_path.child("clientSecret")))
        errors.extend(validate_sks(akamai.client_token_secret_ref, akamai_path.child("clientToken")))
        if not akamai.service_consumer_domain:
            errors.append(fe.required(akamai_path.child("serviceConsumerDomain")))
    if dns01.azure_dns is not None:
        if providers:
            errors.append(fe.forbidden(path.child("azureDNS"), _MORE_THAN_ONE))
        else:
            providers += 1
            errors.extend(_validate_azure(dns01.azure_dns, path.child("azureDNS")))
    if dns01.cloud_dns is not None:
        if providers:
            errors.append(fe.forbidden(path.child("cloudDNS"), _MORE_THAN_ONE))
        else:
            providers += 1
            cloud_dns, cloud_dns_path = dns01.cloud_dns, path.child("cloudDNS")
            if cloud_dns.service_account_secret_ref is not None:
                sks_path = cloud_dns_path.child("serviceAccountSecretRef")
                errors.extend(validate_sks(cloud_dns.service_account_secret_ref, sks_path))
            if not cloud_dns.project:
                errors.append(fe.required(cloud_dns_path.child("project")))
    if dns01.cloudflare is not None:
        if providers:
            errors.append(fe.forbidden(path.child("cloudflare"), _MORE_THAN_ONE))
        else:
            providers += 1
            errors.extend(_validate_cloudflare(dns01.cloudflare, path.child("cloudflare")))
    if dns01.route53 is not None:
        if providers:
            errors.append(fe.forbidden(path.child("route53"), _MORE_THAN_ONE))
        else:
            providers += 1
            errors.extend(_validate_route53(dns01.route53, path.child("route53")))
    if dns01.acme_dns is not None:
        providers += 1
        acme_dns_path = path.child("acmeDNS")
        errors.extend(validate_sks(dns01.acme_dns.account_secret_ref, acme_dns_path.child("accountSecretRef")))
        if not dns01.acme_dns.host:
            errors.append(fe.required(acme_dns_path.child("host")))
    if dns01.digitalocean is not None:
        if providers:
            errors.append(fe.forbidden(path.child("digitalocean"), _MORE_THAN_ONE))
        else:
            providers += 1
            token_path = path.child("digitalocean", "tokenSecretRef")
            errors.extend(validate_sks(dns01.digitalocean.token_secret_ref, token_path))
    if dns01.rfc2136 is not None:
        if providers:
            errors.append(fe.forbidden(path.child("rfc2136"), _MORE_THAN_ONE))
        else:
            providers += 1
            errors.extend(_validate_rfc2136(dns01.rfc2136, path.child("rfc2136")))
    if dns01.webhook is not None:
        if providers:
            errors.append(fe.forbidden(path.child("webhook"), _MORE_THAN_ONE))
        else:
            providers += 1
            if not dns01.webhook.solver_name:
                errors.append(fe.required(path.child("webhook", "solverName"), "solver name must be specified"))
    if not providers:
        errors.append(fe.required(path, "no DNS01 provider configured"))
    return errors


__all__ = [
    "AZURE_ENVIRONMENTS",
    "DEFAULT_RFC2136_PORT",
    "SUPPORTED_TSIG_ALGORITHMS",
    "dns01_nameserver_error",
    "valid_rfc2136_nameserver",
    "validate_dns01",
]
