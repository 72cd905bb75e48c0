"""cert-manager's admission rules for every kind: every field error with its path, and the warnings.

This layer sits above ``pki`` (not inside ``api``) because several rules need to parse what the user
wrote: CSRs, literal subjects, CA bundles. Pure: feature gates arrive as a parameter.
"""
