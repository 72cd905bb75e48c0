"""Pure decisions about one Certificate: must it be (re)issued, is it Ready, and when to retry.

Checks are functions of a frozen input and ``now``; chains return the first violation with
cert-manager's reason string and message. No I/O.
"""
