"""The Certificate issuance pipeline, one module per cert-manager controller.

::

    trigger ──Issuing=True──► keymanager ──next private key Secret──► requestmanager ──CR <name>-<rev>──►
      (approver, issuer signs) ──► issuing ──Secret, revision, Issuing removed──► readiness ──Ready──►
      revisionmanager (old CRs deleted)
"""
