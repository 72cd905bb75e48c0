"""Pure decisions about one Certificate: must it be (re)issued, is it Ready, and when to retry.

Checks are functions of a frozen input and ``now``; chains return the first violation with
cert-manager's reason string and message. No I/O, no clock.

- :mod:`.input`: the :class:`~.input.PolicyInput` snapshot and the choice of the current/next
  revision CertificateRequests (the pure half of cert-manager's gatherer);
- :mod:`.reasons`: the reason vocabulary and the :class:`~.reasons.Violation` value;
- :mod:`.checks`: the checks, by subject (secret, request, expiry, post-issuance, keystores);
- :mod:`.chains`: the trigger, readiness, temporary-certificate and post-issuance chains, the
  Ready condition and the Issuing trigger;
- :mod:`.renewal`: whether a certificate is due for renewal (Disabled, ARI window, renewal windows);
- :mod:`.backoff`: the delay before retrying a failed issuance;
- :mod:`.managed_fields`: what certkeeper last applied to a Secret (emulated SSA managed fields);
- :mod:`.certificate_annotations`: the certificate-details annotations of a Secret.
"""
