"""ACME challenge solvers: prove control of a domain with HTTP-01 or DNS-01.

Modules (the Go files each follows are named in its docstring):

* ``base``           the Solver protocol (present/check/cleanup), CheckResult, SolverContext, errors,
                     and the DNS-01 provider interface with its registry type
* ``selection``      which of an issuer's solvers answers an authorization (pure)
* ``readiness``      self check or ``waitInsteadOfSelfCheck`` before accepting a challenge
* ``http01_server``  the acmesolver HTTP server (standalone pod or in-process), with its limits
* ``http01_check``   the HTTP-01 self check
* ``http01``         the in-process HTTP-01 solver (local mode)
* ``kube_http01``    the HTTP-01 solver on Kubernetes (solver Pod, Service, Ingress or HTTPRoute per
                     Challenge) and the ``kube_http01_solver`` factory for ``certkeeper controller``;
                     ``kube_http01_objects``/``kube_http01_routes`` build those objects (pure)
* ``http01_overrides`` the Order's HTTP-01 override annotations applied to a Challenge's solver (pure)
* ``dns01``          the DNS-01 solver: record name, TXT value, provider dispatch, propagation wait
* ``rfc2136``        the RFC 2136 (+ TSIG) DNS-01 provider
* ``propagation``    zone discovery (SOA walk), authoritative servers, CNAME chains, TXT checks
* ``dnsquery``       DNS over UDP/TCP/HTTPS to given servers
* ``hostport``       Go's host:port rules; ``httpbody``: capped body reads

Nothing here registers itself: the composition roots in ``certkeeper.cli`` build the solvers and
fill the DNS provider registry.
"""
