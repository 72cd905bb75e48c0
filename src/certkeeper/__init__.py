"""certkeeper keeps X.509 certificates issued and renewed, speaking cert-manager's v1 API."""

__version__ = "0.1.0"
