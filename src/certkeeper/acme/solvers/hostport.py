"""``host:port`` strings as Go's ``net.SplitHostPort``/``net.JoinHostPort`` read and write them.

The acmesolver strips the port from the Host header, RFC 2136 nameservers are ``host[:port]`` with
IPv6 in brackets, and DNS01 ``nameservers`` are ``host:port``; all three follow Go's rules, so the
same strings are accepted and rejected as by cert-manager. Pure.
"""

from __future__ import annotations

import ipaddress

from certkeeper.validation import gonet


class HostPortError(ValueError):
    """Not a ``host:port`` string; the message matches Go's ``net.AddrError`` text."""


def split_host_port(text: str) -> tuple[str, str]:
    """Split ``host:port``, ``[v6]:port`` or ``[v6%zone]:port`` into host and port (Go ``net.SplitHostPort``).

    Raises HostPortError with Go's ``net.AddrError`` text (``address <text>: missing port in address``...);
    the parsing itself is :func:`certkeeper.validation.gonet.split_host_port`.
    """
    try:
        return gonet.split_host_port(text)
    except gonet.GoParseError as exc:
        raise HostPortError(f"address {text}: {exc}") from exc


def join_host_port(host: str, port: str | int) -> str:
    """``host:port``, with the host in brackets when it contains a colon (Go ``net.JoinHostPort``)."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def strip_port(host_header: str) -> str:
    """The host of an HTTP Host header: the port removed, else IPv6 brackets trimmed.

    As the acmesolver does: ``SplitHostPort`` when that succeeds, otherwise the whole value with
    leading and trailing ``[``/``]`` trimmed (``[::1]`` -> ``::1``, ``example.com`` unchanged).
    """
    try:
        return split_host_port(host_header)[0]
    except HostPortError:
        return host_header.strip("[]")


def is_ipv6_literal(host: str) -> bool:
    """Whether ``host`` is an IPv6 address literal (without brackets)."""
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address literal (without brackets)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


__all__ = ["HostPortError", "is_ip_literal", "is_ipv6_literal", "join_host_port", "split_host_port", "strip_port"]
