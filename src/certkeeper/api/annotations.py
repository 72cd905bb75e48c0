"""Label and annotation keys of cert-manager's API.

These keys are API: users write them on Certificates, Ingresses, Gateways and webhook
configurations, and certkeeper writes them on Secrets, CertificateRequests, Orders and solver
resources exactly as cert-manager does, so existing tooling keeps working.

Follows ``pkg/apis/certmanager/v1/types.go``, ``pkg/apis/acme/v1/types.go`` and the label
constants of ``pkg/controller/*``. Pure.
"""

from __future__ import annotations

from typing import Final

# --- Labels and annotations: on the Certificate's Secret -------------------------------------------

#: Label ("for attention of") on every Secret the controller manages, so it can cache only those.
PART_OF_CERT_MANAGER_CONTROLLER_LABEL: Final = "controller.cert-manager.io/fao"
#: On the Secret (the owning Certificate), the CertificateRequest and the Order.
CERTIFICATE_NAME_KEY: Final = "cert-manager.io/certificate-name"
ISSUER_NAME_ANNOTATION: Final = "cert-manager.io/issuer-name"
ISSUER_KIND_ANNOTATION: Final = "cert-manager.io/issuer-kind"
ISSUER_GROUP_ANNOTATION: Final = "cert-manager.io/issuer-group"
#: Details of the issued certificate, written on the Secret; on an Ingress/Gateway they configure the
#: generated Certificate instead.
COMMON_NAME_ANNOTATION: Final = "cert-manager.io/common-name"
ALT_NAMES_ANNOTATION: Final = "cert-manager.io/alt-names"
IP_SANS_ANNOTATION: Final = "cert-manager.io/ip-sans"
URI_SANS_ANNOTATION: Final = "cert-manager.io/uri-sans"
EMAIL_SANS_ANNOTATION: Final = "cert-manager.io/email-sans"
SUBJECT_ORGANIZATIONS_ANNOTATION: Final = "cert-manager.io/subject-organizations"
SUBJECT_ORGANIZATIONAL_UNITS_ANNOTATION: Final = "cert-manager.io/subject-organizationalunits"
SUBJECT_COUNTRIES_ANNOTATION: Final = "cert-manager.io/subject-countries"
SUBJECT_PROVINCES_ANNOTATION: Final = "cert-manager.io/subject-provinces"
SUBJECT_LOCALITIES_ANNOTATION: Final = "cert-manager.io/subject-localities"
SUBJECT_STREET_ADDRESSES_ANNOTATION: Final = "cert-manager.io/subject-streetaddresses"
SUBJECT_POSTAL_CODES_ANNOTATION: Final = "cert-manager.io/subject-postalcodes"
SUBJECT_SERIAL_NUMBER_ANNOTATION: Final = "cert-manager.io/subject-serialnumber"

# --- Labels and annotations: CertificateRequest, next private key, temporary certificate -------------

#: The revision (status.revision + 1) a CertificateRequest was created for.
CERTIFICATE_REQUEST_REVISION_ANNOTATION: Final = "cert-manager.io/certificate-revision"
#: The Secret holding the next private key (read by the SelfSigned issuer).
CERTIFICATE_REQUEST_PRIVATE_KEY_ANNOTATION: Final = "cert-manager.io/private-key-secret-name"
#: Label ``"true"`` on the temporary Secret holding the next private key.
IS_NEXT_PRIVATE_KEY_SECRET_LABEL: Final = "cert-manager.io/next-private-key"
#: ``"true"`` on a Certificate: store a throwaway certificate while the real one is being issued.
ISSUE_TEMPORARY_CERTIFICATE_ANNOTATION: Final = "cert-manager.io/issue-temporary-certificate"

# --- Labels and annotations: certificate-shim (Ingress, Gateway, ListenerSet) ------------------------

INGRESS_ISSUER_NAME_ANNOTATION: Final = "cert-manager.io/issuer"
INGRESS_CLUSTER_ISSUER_NAME_ANNOTATION: Final = "cert-manager.io/cluster-issuer"
#: Default of ``--auto-certificate-annotations``.
INGRESS_TLS_ACME_ANNOTATION: Final = "kubernetes.io/tls-acme"
INGRESS_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
DURATION_ANNOTATION: Final = "cert-manager.io/duration"
RENEW_BEFORE_ANNOTATION: Final = "cert-manager.io/renew-before"
RENEW_BEFORE_PERCENTAGE_ANNOTATION: Final = "cert-manager.io/renew-before-percentage"
USAGES_ANNOTATION: Final = "cert-manager.io/usages"
REVISION_HISTORY_LIMIT_ANNOTATION: Final = "cert-manager.io/revision-history-limit"
PRIVATE_KEY_ALGORITHM_ANNOTATION: Final = "cert-manager.io/private-key-algorithm"
PRIVATE_KEY_ENCODING_ANNOTATION: Final = "cert-manager.io/private-key-encoding"
PRIVATE_KEY_SIZE_ANNOTATION: Final = "cert-manager.io/private-key-size"
PRIVATE_KEY_ROTATION_POLICY_ANNOTATION: Final = "cert-manager.io/private-key-rotation-policy"
#: JSON CertificateSecretTemplate for the generated Certificate.
SECRET_TEMPLATE_ANNOTATION: Final = "cert-manager.io/secret-template"
#: Comma-separated Gateway listener names to skip.
IGNORE_TLS_LISTENERS_ANNOTATION: Final = "cert-manager.io/ignore-tls-listeners"
#: Label not copied from the Ingress/Gateway to the generated Certificate.
APPLYSET_PART_OF_LABEL: Final = "applyset.kubernetes.io/part-of"

# --- Labels and annotations: ACME ----------------------------------------------------------------------

#: On a Certificate/Order: use (edit) this existing Ingress for HTTP-01.
ACME_HTTP01_INGRESS_NAME_OVERRIDE_ANNOTATION: Final = "acme.cert-manager.io/http01-override-ingress-name"
ACME_HTTP01_INGRESS_CLASS_OVERRIDE_ANNOTATION: Final = "acme.cert-manager.io/http01-override-ingress-class"
ACME_HTTP01_INGRESS_CLASS_NAME_OVERRIDE_ANNOTATION: Final = (
    "acme.cert-manager.io/http01-override-ingress-ingressclassname"
)
#: On an Ingress (certificate-shim): solve HTTP-01 through this Ingress itself.
ACME_HTTP01_EDIT_IN_PLACE_ANNOTATION: Final = "acme.cert-manager.io/http01-edit-in-place"
ACME_HTTP01_INGRESS_CLASS_ANNOTATION: Final = "acme.cert-manager.io/http01-ingress-class"
ACME_HTTP01_INGRESS_CLASS_NAME_ANNOTATION: Final = "acme.cert-manager.io/http01-ingress-ingressclassname"
#: On a Certificate/Order: override the HTTPRoute's parentRef.
ACME_HTTP01_PARENT_REF_NAME_ANNOTATION: Final = "acme.cert-manager.io/http01-parentrefname"
ACME_HTTP01_PARENT_REF_KIND_ANNOTATION: Final = "acme.cert-manager.io/http01-parentrefkind"
ACME_HTTP01_PARENT_REF_NAMESPACE_ANNOTATION: Final = "acme.cert-manager.io/http01-parentrefnamespace"
#: On a ListenerSet: attach the HTTPRoute to the parent Gateway instead.
ACME_HTTP01_PARENT_REF_FALLBACK_ANNOTATION: Final = "acme.cert-manager.io/http01-parentreffallback"
#: Labels of the HTTP-01 solver Pod/Service/Ingress/HTTPRoute (adler32 of the domain and the token).
ACME_HTTP_DOMAIN_LABEL: Final = "acme.cert-manager.io/http-domain"
ACME_HTTP_TOKEN_LABEL: Final = "acme.cert-manager.io/http-token"
#: Label ``"true"`` on every HTTP-01 solver resource; extra solver labels cannot override it.
ACME_HTTP01_SOLVER_LABEL: Final = "acme.cert-manager.io/http01-solver"

# --- Labels and annotations: cainjector, Venafi, misc --------------------------------------------------

#: ``<namespace>/<certificate>``: inject that Certificate's ``ca.crt``.
WANT_INJECT_ANNOTATION: Final = "cert-manager.io/inject-ca-from"
#: ``<namespace>/<secret>``: inject that Secret's ``ca.crt`` (the Secret must allow it).
WANT_INJECT_FROM_SECRET_ANNOTATION: Final = "cert-manager.io/inject-ca-from-secret"
#: ``"true"``: inject the API server's CA.
WANT_INJECT_API_SERVER_CA_ANNOTATION: Final = "cert-manager.io/inject-apiserver-ca"
#: ``"true"`` on a Secret: it may be named by ``inject-ca-from-secret``.
ALLOWS_INJECTION_FROM_SECRET_ANNOTATION: Final = "cert-manager.io/allow-direct-injection"
#: JSON ``[{"name": ..., "value": ...}]`` custom fields for Venafi requests.
VENAFI_CUSTOM_FIELDS_ANNOTATION: Final = "venafi.cert-manager.io/custom-fields"
#: Written by the Venafi CertificateRequest controller.
VENAFI_PICKUP_ID_ANNOTATION: Final = "venafi.cert-manager.io/pickup-id"
#: Namespace label ``"true"``: the webhooks skip this namespace.
DISABLE_VALIDATION_LABEL: Final = "cert-manager.io/disable-validation"
#: Label on Secrets created by a component (ACME account keys: ``cert-manager``).
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
#: Annotation prefixes that may not be set in ``secretTemplate`` or changed on a CertificateRequest.
CERT_MANAGER_ANNOTATION_PREFIX: Final = "cert-manager.io/"
ACME_ANNOTATION_PREFIX: Final = "acme.cert-manager.io/"
#: Annotation prefixes not copied from a Certificate to its CertificateRequest (and Order).
DEFAULT_EXCLUDED_COPIED_ANNOTATION_PREFIXES: Final = ("kubectl.kubernetes.io/", "fluxcd.io/", "argocd.argoproj.io/")
