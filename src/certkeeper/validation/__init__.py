"""cert-manager's admission rules for every kind: every field error with its path, and the warnings.

This layer sits above ``pki`` (not inside ``api``) because several rules need to parse what the user
wrote: CSRs, literal subjects, CA bundles. Pure: feature gates arrive as a parameter.

* :mod:`~certkeeper.validation.admission`: :func:`~certkeeper.validation.admission.admit`, the one
  entry point (schema, decode, defaults, rules) for the local store, the webhook and the CLI;
* one module of rules per kind: ``certificate`` (+ ``certificate_options``), ``certificaterequest``
  (+ ``identity`` and ``approval``, the pure halves of cert-manager's admission plugins), ``issuer``
  (+ ``acme_issuer`` and ``dns01``) for Issuers and ClusterIssuers, ``acme`` for Orders and
  Challenges; each exposes ``validate_<kind>_create(obj, gates)`` and
  ``validate_<kind>_update(old, new, gates)``;
* helpers that reproduce what cert-manager's rules call in Go: ``kube`` (apimachinery's name,
  label and annotation checks), ``gonet`` (``net.ParseIP``, ``ParseCIDR``, ``SplitHostPort``,
  ``url.ParseRequestURI``), ``gomail`` (``net/mail.ParseAddress``), ``decoding`` (durations Go
  cannot decode) and ``common``.
"""
