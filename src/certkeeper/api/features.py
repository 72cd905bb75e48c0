"""Feature gates, passed down as a frozen value (never read from a global).

Names, maturity and defaults are cert-manager's (controller and webhook gates). ``parse`` accepts the
``--feature-gates`` flag syntax ``Name=true,Other=false``. Pure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureGates:
    """Each field is a gate in snake_case; ``GATE_NAMES`` maps the upstream CamelCase names."""

    disallow_insecure_csr_usage_definition: bool = True
    stable_certificate_request_name: bool = True
    secrets_filtered_caching: bool = True
    experimental_certificate_signing_request_controllers: bool = False
    experimental_gateway_api_support: bool = True
    listener_sets: bool = False
    additional_certificate_output_formats: bool = True
    server_side_apply: bool = False
    literal_certificate_subject: bool = True
    use_certificate_request_basic_constraints: bool = False
    name_constraints: bool = True
    other_names: bool = True
    use_domain_qualified_finalizer: bool = True
    default_private_key_rotation_policy_always: bool = True
    acme_http01_ingress_path_type_exact: bool = True
    acme_use_ari: bool = False
    validate_caa: bool = False
    ca_injector_merging: bool = True

    def with_gates(self, **changes: bool) -> FeatureGates:
        return dataclasses.replace(self, **changes)


#: Upstream gate name -> field name.
GATE_NAMES: Final[dict[str, str]] = {
    "DisallowInsecureCSRUsageDefinition": "disallow_insecure_csr_usage_definition",
    "StableCertificateRequestName": "stable_certificate_request_name",
    "SecretsFilteredCaching": "secrets_filtered_caching",
    "ExperimentalCertificateSigningRequestControllers": "experimental_certificate_signing_request_controllers",
    "ExperimentalGatewayAPISupport": "experimental_gateway_api_support",
    "ListenerSets": "listener_sets",
    "AdditionalCertificateOutputFormats": "additional_certificate_output_formats",
    "ServerSideApply": "server_side_apply",
    "LiteralCertificateSubject": "literal_certificate_subject",
    "UseCertificateRequestBasicConstraints": "use_certificate_request_basic_constraints",
    "NameConstraints": "name_constraints",
    "OtherNames": "other_names",
    "UseDomainQualifiedFinalizer": "use_domain_qualified_finalizer",
    "DefaultPrivateKeyRotationPolicyAlways": "default_private_key_rotation_policy_always",
    "ACMEHTTP01IngressPathTypeExact": "acme_http01_ingress_path_type_exact",
    "ACMEUseARI": "acme_use_ari",
    "ValidateCAA": "validate_caa",
    "CAInjectorMerging": "ca_injector_merging",
}

#: Gates that are GA and locked to their default: setting them otherwise is an error, as in Kubernetes.
LOCKED_GATES: Final = frozenset(
    {
        "DisallowInsecureCSRUsageDefinition",
        "AdditionalCertificateOutputFormats",
        "UseDomainQualifiedFinalizer",
        "DefaultPrivateKeyRotationPolicyAlways",
        "CAInjectorMerging",
    }
)

DEFAULT_GATES: Final = FeatureGates()


def parse(spec: str, base: FeatureGates = DEFAULT_GATES) -> FeatureGates:
    """Apply a ``--feature-gates`` string (``A=true,B=false``) on top of ``base``."""
    changes: dict[str, bool] = {}
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"missing bool value for {name}")
        attr = GATE_NAMES.get(name)
        if attr is None:
            raise ValueError(f"unrecognized feature gate: {name}")
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"invalid value of {name}={value.strip()}, err: invalid syntax")
        enabled = lowered == "true"
        if name in LOCKED_GATES and enabled != getattr(DEFAULT_GATES, attr):
            raise ValueError(
                f"cannot set feature gate {name} to {enabled}, feature is locked to {getattr(DEFAULT_GATES, attr)}"
            )
        changes[attr] = enabled
    return dataclasses.replace(base, **changes)
