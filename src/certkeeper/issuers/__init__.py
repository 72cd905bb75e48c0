"""Signers: each turns an approved CertificateRequest into a certificate for one issuer type.

An issuer never writes status: ``sign`` returns ``Issued | Pending | Failed`` and ``setup`` returns
the Ready condition it wants; the controllers apply them (cert-manager ``pkg/issuer/issuer.go``).
"""
