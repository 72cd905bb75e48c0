"""Keys, CSRs, subjects, signing, chains, matching, renewal time and keystores.

cryptography only; pure: no I/O, no clock (``now`` is a parameter), randomness from the OS CSPRNG
through cryptography (key generation and serial numbers) is the one exception.
"""
