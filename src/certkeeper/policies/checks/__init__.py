"""The checks of the policy chains, one module per subject (secret, request, expiry, post-issuance, keystores)."""
