"""An async ACME (RFC 8555) client: accounts, orders, challenges, certificates, ARI (RFC 9773).

Modules, top to bottom:

* :mod:`~certkeeper.acme.client` - the flows (:class:`AcmeClient`); one client per account key.
* :mod:`~certkeeper.acme.network` - nonce pool, JWS signing, badNonce retry, problem decoding.
* :mod:`~certkeeper.acme.transport` - the :class:`Transport` protocol and the aiohttp transport.
* :mod:`~certkeeper.acme.metrics` - cert-manager's request metrics, as a transport wrapper.
* :mod:`~certkeeper.acme.messages`, :mod:`~certkeeper.acme.resources` - wire models and results.
* :mod:`~certkeeper.acme.jws`, :mod:`~certkeeper.acme.ari`, :mod:`~certkeeper.acme.chains` - pure helpers.
* :mod:`~certkeeper.acme.errors` - the exception tree (drawn in its docstring).

Import from the modules; this package re-exports nothing, so importing it has no side effects.
"""
