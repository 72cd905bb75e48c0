"""The pki layer's own inputs: what a Certificate asks for, and which optional CSR features are on. Pure.

These frozen values mirror the parts of cert-manager's ``CertificateSpec`` that ``pkg/util/pki``
reads (``csr.go``, ``certificatetemplate.go``, ``match.go``), so pki does not depend on the API
models; ``certkeeper.pki.from_spec`` converts the models into them. Fields keep "unset" apart from
"empty" where cert-manager does (``other_names``, ``duration``), and are not defaulted: defaults are
applied where cert-manager applies them (:attr:`CertificateTemplate.effective_duration`,
:func:`certkeeper.pki.usages.key_usages_for`, :attr:`certkeeper.pki.keys.KeySpec.effective_size`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from certkeeper.api.features import FeatureGates
from certkeeper.pki.keys import KeySpec, SignatureAlgorithm
from certkeeper.pki.subject import SubjectFields

#: ``spec.duration`` when unset: 90 days (cert-manager's DefaultCertificateDuration).
DEFAULT_DURATION: Final = timedelta(days=90)


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherName:
    """An otherName SAN: a type OID (dotted string) and a UTF8String value."""

    oid: str
    utf8_value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NameConstraintItems:
    """One side (permitted or excluded) of ``spec.nameConstraints``."""

    dns_domains: tuple[str, ...] = ()
    ip_ranges: tuple[str, ...] = ()
    email_addresses: tuple[str, ...] = ()
    uri_domains: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when no constraint of any kind is listed."""
        return not (self.dns_domains or self.ip_ranges or self.email_addresses or self.uri_domains)


@dataclass(frozen=True, slots=True, kw_only=True)
class NameConstraintsSpec:
    """``spec.nameConstraints`` (only meaningful with ``is_ca``)."""

    critical: bool = False
    permitted: NameConstraintItems | None = None
    excluded: NameConstraintItems | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateTemplate:
    """What a Certificate asks for, as ``pkg/util/pki`` reads a ``CertificateSpec``.

    ``usages`` empty means the default usages; ``other_names`` None means "not set" (matching then
    ignores otherNames, as upstream); ``duration`` None means the 90-day default.
    """

    common_name: str = ""
    literal_subject: str = ""
    subject: SubjectFields = field(default_factory=SubjectFields)
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    email_addresses: tuple[str, ...] = ()
    other_names: tuple[OtherName, ...] | None = None
    is_ca: bool = False
    usages: tuple[str, ...] = ()
    key: KeySpec = field(default_factory=KeySpec)
    signature_algorithm: SignatureAlgorithm | None = None
    encode_usages_in_request: bool = True
    duration: timedelta | None = None
    name_constraints: NameConstraintsSpec | None = None

    @property
    def effective_duration(self) -> timedelta:
        """``duration``, or the 90-day default when unset."""
        return DEFAULT_DURATION if self.duration is None else self.duration


@dataclass(frozen=True, slots=True, kw_only=True)
class CsrOptions:
    """Which optional CSR features are on; the defaults are those of the default feature gates.

    ``use_literal_subject``: gate LiteralCertificateSubject; ``encode_basic_constraints``: gate
    UseCertificateRequestBasicConstraints; ``encode_name_constraints``: gate NameConstraints;
    ``encode_other_names``: gate OtherNames.
    """

    use_literal_subject: bool = True
    encode_basic_constraints: bool = False
    encode_name_constraints: bool = True
    encode_other_names: bool = True

    @classmethod
    def from_feature_gates(cls, gates: FeatureGates) -> CsrOptions:
        """The options the request manager uses under ``gates``."""
        return cls(
            use_literal_subject=gates.literal_certificate_subject,
            encode_basic_constraints=gates.use_certificate_request_basic_constraints,
            encode_name_constraints=gates.name_constraints,
            encode_other_names=gates.other_names,
        )


#: cert-manager's ``GenerateCSR`` without options: no literal subject, BasicConstraints, name
#: constraints or otherNames. Used for templates built straight from a spec (temporary certificates).
PLAIN_CSR_OPTIONS: Final = CsrOptions(
    use_literal_subject=False,
    encode_basic_constraints=False,
    encode_name_constraints=False,
    encode_other_names=False,
)
