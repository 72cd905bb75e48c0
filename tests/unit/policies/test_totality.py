"""Every check is total: whatever the Secret, request and managed fields hold, no check raises.

The Secret's data, annotations and the CSR are user input (anyone who can edit the Secret or create a
CertificateRequest writes them); the managed fields come from the API server. Hypothesis throws
arbitrary bytes, maps and JSON at every chain; each must answer with a violation or None.
"""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.api.certmanager import (
    ACMERenewalWindow,
    CertificateAdditionalOutputFormat,
    CertificateKeystores,
    CertificateRequest,
    CertificateSecretTemplate,
    JKSKeystore,
)
from certkeeper.api.core import Secret
from certkeeper.policies.chains import (
    READINESS_CHECKS,
    TRIGGER_CHECKS,
    post_issuance_chain,
    post_issuance_checks,
)
from certkeeper.policies.input import Check, PolicyInput
from certkeeper.policies.managed_fields import AppliedSecretFields, applied_fields_from_managed_fields
from certkeeper.policies.reasons import Reason, Violation

from .builders import CERT_PEM, NOW, key_pem, make_certificate, make_request, make_secret

ALL_CHECKS: list[Check] = [
    *dict.fromkeys([*TRIGGER_CHECKS, *READINESS_CHECKS]),
    *post_issuance_checks(applied=AppliedSecretFields(), owner_ref_enabled=True),
]

CERTIFICATE = make_certificate(
    secret_template=CertificateSecretTemplate(annotations={"a": "1"}, labels={"b": "2"}),
    additional_output_formats=[
        CertificateAdditionalOutputFormat(type="DER"),
        CertificateAdditionalOutputFormat(type="CombinedPEM"),
    ],
    keystores=CertificateKeystores(jks=JKSKeystore(create=True, password="x")),
)

SECRET_KEYS = st.sampled_from(
    ["tls.key", "tls.crt", "ca.crt", "key.der", "tls-combined.pem", "keystore.jks", "truststore.jks", "x"]
)
#: Real PEM, truncated or spliced, finds more paths than random bytes alone.
PEM_ISH = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([key_pem(), CERT_PEM]).flatmap(lambda pem: st.integers(0, len(pem)).map(lambda n: pem[:n])),
    st.just(key_pem() + CERT_PEM),
)
SECRETS = st.one_of(
    st.none(),
    st.builds(
        make_secret,
        data=st.dictionaries(SECRET_KEYS, PEM_ISH, max_size=6),
        annotations=st.dictionaries(
            st.sampled_from(
                ["cert-manager.io/issuer-name", "cert-manager.io/certificate-name", "cert-manager.io/common-name", "a"]
            ),
            st.text(max_size=20),
            max_size=4,
        ),
        labels=st.one_of(
            st.none(), st.dictionaries(st.sampled_from(["controller.cert-manager.io/fao", "b"]), st.text(max_size=5))
        ),
    ),
)
REQUESTS = st.one_of(
    st.none(),
    PEM_ISH.map(lambda pem: make_request(CERTIFICATE, request_pem=pem)),
    st.just(make_request(CERTIFICATE)),
)
WINDOWS = st.one_of(
    st.none(),
    st.builds(
        lambda start, length: ACMERenewalWindow(start=NOW + start, end=NOW + start + length),
        st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)),
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    ),
)


@given(secret=SECRETS, current=REQUESTS, ari=WINDOWS)
def test_no_check_raises(
    secret: Secret | None, current: CertificateRequest | None, ari: ACMERenewalWindow | None
) -> None:
    policy_input = PolicyInput(
        certificate=CERTIFICATE,
        secret=secret,
        current_revision_request=current,
        ari_window=ari,
    )
    for check in ALL_CHECKS:
        result = check(policy_input, NOW)
        assert result is None or (isinstance(result, Violation) and isinstance(result.reason, Reason))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=12,
)
FIELD_SETS: st.SearchStrategy[dict[str, object]] = st.recursive(
    st.just({}),
    lambda children: st.dictionaries(
        st.one_of(
            st.sampled_from(["f:metadata", "f:labels", "f:annotations", "f:data", "f:ownerReferences", ".", "k:{}"]),
            st.text(max_size=12),
        ),
        children,
        max_size=3,
    ),
    max_leaves=12,
)


@given(fields=st.one_of(JSON, FIELD_SETS, st.text(max_size=40)))
def test_managed_fields_reader_never_raises(fields: object) -> None:
    applied = applied_fields_from_managed_fields([{"manager": "m", "fieldsV1": fields}], "m")
    assert isinstance(applied, AppliedSecretFields)
    secret = make_secret()
    violation = post_issuance_chain(
        PolicyInput(certificate=CERTIFICATE, secret=secret), NOW, applied=applied, owner_ref_enabled=False
    )
    assert violation is None or isinstance(violation.reason, Reason)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=range(len(ALL_CHECKS)))
def test_every_check_answers_on_an_empty_secret(check: Check) -> None:
    result = check(PolicyInput(certificate=CERTIFICATE, secret=make_secret(data={})), NOW)
    assert result is None or isinstance(result, Violation)
