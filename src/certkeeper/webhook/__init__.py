"""``certkeeper webhook``: cert-manager's admission webhook, served over HTTPS with hard limits.

Modules:

* ``review``: the AdmissionReview wire format (decode a request, encode a response);
* ``admission``: the ``/validate`` and ``/mutate`` handlers (identity, approval, resource validation);
* ``approval`` and ``authz``: the approval check, and the SubjectAccessReview/discovery Protocols
  with their API-server implementations;
* ``tls``: the serving context (swapped whole on rotation) and certificates from files;
* ``authority``: dynamic serving certificates from a self-signed CA kept in a Secret;
* ``listener``: a TCP listener with a connection cap and per-connection TLS;
* ``server``: the aiohttp servers (admission on the secure port, health on the plain one) and limits;
* ``service``: runs a server with its certificate source until stopped.

Follows cert-manager's ``cmd/webhook``, ``pkg/webhook`` and ``internal/webhook``.
"""
