"""Single-host mode: a directory of manifests reconciled into the embedded store, Secrets as files,
hooks after issuance, and the status view. Composed by ``certkeeper local`` in ``cli``."""
