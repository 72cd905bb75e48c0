"""Typed models of cert-manager's v1 API, their defaults, field errors and CRD generation.

Pure: no I/O, no clock. Everything here is a value or a function of values.
"""
