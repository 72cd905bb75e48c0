"""The closed vocabularies and fixed strings of cert-manager's v1 API.

Everything here is API: the strings appear in manifests, conditions, events, annotations and Secret
keys, so they match cert-manager byte for byte. Vocabularies that are also the type of a field (key
usages, key algorithms...) are ``Literal`` aliases with one ``Final`` constant per value, so that a
constant type-checks where the field expects the literal. Condition types and reasons, which are
plain strings on the wire, are ``StrEnum``s. Label and annotation keys are in
:mod:`certkeeper.api.annotations`.

Follows ``pkg/apis/certmanager/v1/{types,const,types_certificate,types_certificaterequest,
types_issuer}.go``, ``pkg/apis/meta/v1/types.go``, ``pkg/apis/acme/v1/{const,types}.go`` and the
reason constants of ``pkg/issuer/*/setup.go``. Pure.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Final, Literal

# --- API groups, versions and kinds -------------------------------------------------------------

GROUP: Final = "cert-manager.io"
ACME_GROUP: Final = "acme.cert-manager.io"
API_VERSION: Final = "cert-manager.io/v1"
ACME_API_VERSION: Final = "acme.cert-manager.io/v1"

ISSUER_KIND: Final = "Issuer"
CLUSTER_ISSUER_KIND: Final = "ClusterIssuer"
CERTIFICATE_KIND: Final = "Certificate"
CERTIFICATE_REQUEST_KIND: Final = "CertificateRequest"
ORDER_KIND: Final = "Order"
CHALLENGE_KIND: Final = "Challenge"

# --- Conditions ---------------------------------------------------------------------------------

#: The status of every condition of every kind.
ConditionStatus = Literal["True", "False", "Unknown"]
CONDITION_TRUE: Final = "True"
CONDITION_FALSE: Final = "False"
CONDITION_UNKNOWN: Final = "Unknown"


class CertificateConditionType(enum.StrEnum):
    """Condition types of a Certificate."""

    #: The Secret holds an up-to-date certificate that has not expired.
    READY = "Ready"
    #: A (re-)issuance is in progress; set by the trigger controller, removed when it completes.
    ISSUING = "Issuing"


class CertificateRequestConditionType(enum.StrEnum):
    """Condition types of a CertificateRequest."""

    #: The request has been signed (True) or is pending / failed / denied (False, see the reason).
    READY = "Ready"
    #: The request can never be signed; set by an issuer, terminal.
    INVALID_REQUEST = "InvalidRequest"
    #: An approver allowed the request to be signed. Only ever True, never changed once set.
    APPROVED = "Approved"
    #: An approver refused the request. Only ever True, never changed once set.
    DENIED = "Denied"


class IssuerConditionType(enum.StrEnum):
    """Condition types of an Issuer or ClusterIssuer."""

    #: The issuer is configured and can sign.
    READY = "Ready"


class CertificateReason(enum.StrEnum):
    """Reasons of the Certificate conditions that are set outside the trigger/readiness policies."""

    #: Ready=True: the certificate is up to date and has not expired.
    READY = "Ready"
    #: Issuing=False after a successful issuance (when the Issuing condition is kept rather than removed).
    ISSUED = "Issued"


#: The message of Ready=True on a Certificate.
CERTIFICATE_READY_MESSAGE: Final = "Certificate is up to date and has not expired"


class CertificateRequestReason(enum.StrEnum):
    """Reasons of a CertificateRequest's Ready condition."""

    #: Ready=False: the issuer has not signed the request yet.
    PENDING = "Pending"
    #: Ready=False: signing failed and will not be retried for this request.
    FAILED = "Failed"
    #: Ready=True: status.certificate holds the signed certificate.
    ISSUED = "Issued"
    #: Ready=False: an approver denied the request.
    DENIED = "Denied"


#: Message of Ready=False reason Denied.
CERTIFICATE_REQUEST_DENIED_MESSAGE: Final = "The CertificateRequest was denied by an approval controller"
#: Message of Ready=True reason Issued.
CERTIFICATE_REQUEST_ISSUED_MESSAGE: Final = "Certificate fetched from issuer successfully"


class ApprovalReason(enum.StrEnum):
    """Reasons of the Approved condition set by the known approvers."""

    #: The built-in approver of the controller.
    CERT_MANAGER = "cert-manager.io"
    #: ``cmctl approve``.
    KUBECTL_CERT_MANAGER = "KubectlCertManager"


#: Message of Approved=True set by the built-in approver.
CERT_MANAGER_APPROVAL_MESSAGE: Final = "Certificate request has been approved by cert-manager.io"


class IssuerReason(enum.StrEnum):
    """Reasons of an Issuer's Ready condition (and the issuer set-up event)."""

    #: SelfSigned: always ready.
    IS_READY = "IsReady"
    #: CA: the CA Secret holds a CA certificate and its matching key.
    KEY_PAIR_VERIFIED = "KeyPairVerified"
    #: CA: the CA Secret could not be read.
    ERR_GET_KEY_PAIR = "ErrGetKeyPair"
    #: CA: the CA Secret's certificate is not a CA or does not match the key.
    ERR_INVALID_KEY_PAIR = "ErrInvalidKeyPair"
    #: Vault: authenticated and healthy.
    VAULT_VERIFIED = "VaultVerified"
    #: Vault: configuration, authentication or health check failed.
    VAULT_ERROR = "VaultError"
    #: ACME: the account was registered (or found) with the ACME server.
    ACME_ACCOUNT_REGISTERED = "ACMEAccountRegistered"
    #: ACME: the account was verified against the ACME server.
    ACME_ACCOUNT_VERIFIED = "ACMEAccountVerified"
    #: ACME: registering the account failed.
    ERR_REGISTER_ACME_ACCOUNT = "ErrRegisterACMEAccount"
    #: ACME: verifying the account failed.
    ERR_VERIFY_ACME_ACCOUNT = "ErrVerifyACMEAccount"
    #: ACME: updating the account's contact failed.
    ERR_UPDATE_ACME_ACCOUNT = "ErrUpdateACMEAccount"
    #: ACME: the issuer configuration cannot work (e.g. an ACME v1 server URL).
    INVALID_CONFIG = "InvalidConfig"
    #: ACME: the server URL does not parse.
    INVALID_URL = "InvalidURL"
    #: ACME: a solver is misconfigured.
    INVALID_SOLVER = "InvalidSolver"
    #: Venafi: authentication failed.
    AUTH_FAILED = "AuthFailed"
    #: Venafi: any other set-up failure.
    ERROR_SETUP = "ErrorSetup"
    #: Event reason (Warning) when an issuer's set-up returns an error.
    ERR_INIT_ISSUER = "ErrInitIssuer"


#: Message of the CA issuer's Ready=True.
CA_KEY_PAIR_VERIFIED_MESSAGE: Final = "Signing CA verified"
#: Message of the ACME issuer's Ready=True.
ACME_ACCOUNT_REGISTERED_MESSAGE: Final = "The ACME account was registered with the ACME server"

# --- Certificate spec vocabularies ---------------------------------------------------------------

#: One of the usages a certificate can be requested for (``spec.usages``).
KeyUsage = Literal[
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
]
USAGE_SIGNING: Final = "signing"
USAGE_DIGITAL_SIGNATURE: Final = "digital signature"
USAGE_CONTENT_COMMITMENT: Final = "content commitment"
USAGE_KEY_ENCIPHERMENT: Final = "key encipherment"
USAGE_KEY_AGREEMENT: Final = "key agreement"
USAGE_DATA_ENCIPHERMENT: Final = "data encipherment"
USAGE_CERT_SIGN: Final = "cert sign"
USAGE_CRL_SIGN: Final = "crl sign"
USAGE_ENCIPHER_ONLY: Final = "encipher only"
USAGE_DECIPHER_ONLY: Final = "decipher only"
USAGE_ANY: Final = "any"
USAGE_SERVER_AUTH: Final = "server auth"
USAGE_CLIENT_AUTH: Final = "client auth"
USAGE_CODE_SIGNING: Final = "code signing"
USAGE_EMAIL_PROTECTION: Final = "email protection"
USAGE_SMIME: Final = "s/mime"
USAGE_IPSEC_END_SYSTEM: Final = "ipsec end system"
USAGE_IPSEC_TUNNEL: Final = "ipsec tunnel"
USAGE_IPSEC_USER: Final = "ipsec user"
USAGE_TIMESTAMPING: Final = "timestamping"
USAGE_OCSP_SIGNING: Final = "ocsp signing"
USAGE_MICROSOFT_SGC: Final = "microsoft sgc"
USAGE_NETSCAPE_SGC: Final = "netscape sgc"

#: Usages that become bits of the X.509 KeyUsage extension (``signing`` is digitalSignature).
KEY_USAGES: Final[tuple[KeyUsage, ...]] = (
    USAGE_SIGNING,
    USAGE_DIGITAL_SIGNATURE,
    USAGE_CONTENT_COMMITMENT,
    USAGE_KEY_ENCIPHERMENT,
    USAGE_KEY_AGREEMENT,
    USAGE_DATA_ENCIPHERMENT,
    USAGE_CERT_SIGN,
    USAGE_CRL_SIGN,
    USAGE_ENCIPHER_ONLY,
    USAGE_DECIPHER_ONLY,
)
#: Usages that become OIDs of the X.509 ExtendedKeyUsage extension (``s/mime`` is emailProtection).
EXTENDED_KEY_USAGES: Final[tuple[KeyUsage, ...]] = (
    USAGE_ANY,
    USAGE_SERVER_AUTH,
    USAGE_CLIENT_AUTH,
    USAGE_CODE_SIGNING,
    USAGE_EMAIL_PROTECTION,
    USAGE_SMIME,
    USAGE_IPSEC_END_SYSTEM,
    USAGE_IPSEC_TUNNEL,
    USAGE_IPSEC_USER,
    USAGE_TIMESTAMPING,
    USAGE_OCSP_SIGNING,
    USAGE_MICROSOFT_SGC,
    USAGE_NETSCAPE_SGC,
)
#: Every usage, in the order cert-manager declares them (and its CRD enum lists them).
ALL_USAGES: Final[tuple[KeyUsage, ...]] = KEY_USAGES + EXTENDED_KEY_USAGES
#: Usages of a Certificate that sets none. serverAuth is deliberately absent, as in cert-manager.
DEFAULT_USAGES: Final[tuple[KeyUsage, ...]] = (USAGE_DIGITAL_SIGNATURE, USAGE_KEY_ENCIPHERMENT)

#: ``spec.privateKey.algorithm``.
PrivateKeyAlgorithm = Literal["RSA", "ECDSA", "Ed25519"]
RSA: Final = "RSA"
ECDSA: Final = "ECDSA"
ED25519: Final = "Ed25519"

#: ``spec.privateKey.encoding`` (Ed25519 keys are always PKCS#8).
PrivateKeyEncoding = Literal["PKCS1", "PKCS8"]
PKCS1: Final = "PKCS1"
PKCS8: Final = "PKCS8"

#: ``spec.privateKey.rotationPolicy``.
PrivateKeyRotationPolicy = Literal["Never", "Always"]
ROTATION_POLICY_NEVER: Final = "Never"
ROTATION_POLICY_ALWAYS: Final = "Always"

#: ``spec.signatureAlgorithm``.
SignatureAlgorithm = Literal[
    "SHA256WithRSA",
    "SHA384WithRSA",
    "SHA512WithRSA",
    "ECDSAWithSHA256",
    "ECDSAWithSHA384",
    "ECDSAWithSHA512",
    "PureEd25519",
]

#: ``spec.keystores.pkcs12.profile``.
PKCS12Profile = Literal["LegacyRC2", "LegacyDES", "Modern2023", "Modern2026"]
PKCS12_PROFILE_LEGACY_RC2: Final = "LegacyRC2"
PKCS12_PROFILE_LEGACY_DES: Final = "LegacyDES"
PKCS12_PROFILE_MODERN_2023: Final = "Modern2023"
PKCS12_PROFILE_MODERN_2026: Final = "Modern2026"

#: ``spec.additionalOutputFormats[].type``.
OutputFormatType = Literal["DER", "CombinedPEM"]
OUTPUT_FORMAT_DER: Final = "DER"
OUTPUT_FORMAT_COMBINED_PEM: Final = "CombinedPEM"

#: ``spec.renewal.policy``.
RenewalPolicy = Literal["RenewBefore", "Disabled"]
RENEWAL_POLICY_RENEW_BEFORE: Final = "RenewBefore"
RENEWAL_POLICY_DISABLED: Final = "Disabled"

# --- Defaults and limits -------------------------------------------------------------------------

#: Lifetime requested when ``spec.duration`` is unset (90 days).
DEFAULT_DURATION: Final = timedelta(hours=2160)
#: The same, as written in a manifest.
DEFAULT_DURATION_TEXT: Final = "2160h"
#: The shortest ``spec.duration`` the webhook accepts.
MIN_DURATION: Final = timedelta(hours=1)
#: The shortest ``spec.renewBefore`` (given or derived from the percentage) the webhook accepts.
MIN_RENEW_BEFORE: Final = timedelta(minutes=5)
#: Longest commonName, in characters (the X.509 upper bound ub-common-name).
MAX_COMMON_NAME_LENGTH: Final = 64
#: ``spec.revisionHistoryLimit`` when unset: keep only the latest CertificateRequest.
DEFAULT_REVISION_HISTORY_LIMIT: Final = 1
DEFAULT_PRIVATE_KEY_ALGORITHM: Final[PrivateKeyAlgorithm] = RSA
DEFAULT_PRIVATE_KEY_ENCODING: Final[PrivateKeyEncoding] = PKCS1
#: Default since cert-manager v1.18 (it was Never before).
DEFAULT_ROTATION_POLICY: Final[PrivateKeyRotationPolicy] = ROTATION_POLICY_ALWAYS
DEFAULT_RSA_KEY_SIZE: Final = 2048
MIN_RSA_KEY_SIZE: Final = 2048
MAX_RSA_KEY_SIZE: Final = 8192
DEFAULT_ECDSA_KEY_SIZE: Final = 256
#: The curve sizes ECDSA accepts (P-256, P-384, P-521).
ECDSA_KEY_SIZES: Final = (256, 384, 521)
DEFAULT_PKCS12_PROFILE: Final[PKCS12Profile] = PKCS12_PROFILE_LEGACY_RC2
#: JKS alias of the key entry when ``spec.keystores.jks.alias`` is unset.
DEFAULT_JKS_ALIAS: Final = "certificate"

DEFAULT_ISSUER_KIND: Final = ISSUER_KIND
DEFAULT_ISSUER_GROUP: Final = GROUP

# --- Secret data keys -----------------------------------------------------------------------------

#: The leaf certificate followed by its intermediates, PEM.
TLS_CERT_KEY: Final = "tls.crt"
#: The private key, PEM, encoded as ``spec.privateKey.encoding`` says.
TLS_PRIVATE_KEY_KEY: Final = "tls.key"
#: The issuing CA (root-most) certificate, PEM; only when the issuer returned one.
TLS_CA_KEY: Final = "ca.crt"
#: additionalOutputFormats DER: the private key, DER.
DER_KEY_KEY: Final = "key.der"
#: additionalOutputFormats CombinedPEM: key PEM, newline, certificate chain PEM.
COMBINED_PEM_KEY: Final = "tls-combined.pem"
JKS_KEYSTORE_KEY: Final = "keystore.jks"
JKS_TRUSTSTORE_KEY: Final = "truststore.jks"
PKCS12_KEYSTORE_KEY: Final = "keystore.p12"
PKCS12_TRUSTSTORE_KEY: Final = "truststore.p12"
#: Legacy name of the keystore password key (kept for compatibility, not written).
KEYSTORE_PASSWORD_KEY: Final = "keystorePassword"

#: Keys of an issuer credentials Secret whose meaning is fixed by the API (not selectable by ``key``).
VENAFI_ACCESS_TOKEN_KEY: Final = "access-token"
VENAFI_USERNAME_KEY: Final = "username"
VENAFI_PASSWORD_KEY: Final = "password"
VENAFI_CLIENT_ID_KEY: Final = "client-id"
VENAFI_CLIENT_SECRET_KEY: Final = "client-secret"
#: Default ``key`` of SecretKeySelectors, per field.
DEFAULT_ACME_PRIVATE_KEY_KEY: Final = TLS_PRIVATE_KEY_KEY
DEFAULT_VAULT_TOKEN_KEY: Final = "token"
DEFAULT_VAULT_KUBERNETES_SECRET_KEY: Final = "token"
DEFAULT_CA_BUNDLE_KEY: Final = TLS_CA_KEY
DEFAULT_VENAFI_CLOUD_API_TOKEN_KEY: Final = "api-key"

# --- Issuer defaults --------------------------------------------------------------------------------

DEFAULT_VAULT_KUBERNETES_MOUNT_PATH: Final = "/v1/auth/kubernetes"
DEFAULT_VAULT_CLIENT_CERT_MOUNT_PATH: Final = "/v1/auth/cert"
DEFAULT_VAULT_AWS_MOUNT_PATH: Final = "/v1/auth/aws"
DEFAULT_VENAFI_CLOUD_URL: Final = "https://api.venafi.cloud/"
DEFAULT_NGTS_URL: Final = "https://api.strata.paloaltonetworks.com/ngts"
DEFAULT_NGTS_TOKEN_ENDPOINT: Final = "https://auth.apps.paloaltonetworks.com/oauth2/access_token"

# --- Finalizers -------------------------------------------------------------------------------------

#: Put on Challenges so that the solver's DNS record / HTTP resources are cleaned up before deletion.
ACME_FINALIZER: Final = "acme.cert-manager.io/finalizer"
#: The older, not domain-qualified, name of the same finalizer; still removed when found.
ACME_LEGACY_FINALIZER: Final = "finalizer.acme.cert-manager.io"
