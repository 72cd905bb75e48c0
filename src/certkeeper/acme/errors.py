"""The acme layer's exceptions: problem documents (RFC 8555 §6.7, RFC 7807) as exceptions, and the rest.

An ACME server reports errors as ``application/problem+json`` documents. :class:`AcmeProblem` is both
that document and the exception that carries it (as certbot's ``messages.Error``); well-known problem
types get subclasses so callers can ``except BadNonce`` or ``except RateLimited`` instead of comparing
URNs. ``str()`` of a problem reads as cert-manager's (golang.org/x/crypto/acme ``Error.Error``):
``"<status> <type>: <detail>"`` plus ``"; subproblems:"`` lines, because that text ends up in Order and
Challenge ``status.reason`` fields. Follows ``third_party/forked/acme/types.go``. Pure.

::

    AcmeError
    ├── AcmeProblem(type, detail, status, subproblems, retry_after)   the server said no
    │   ├── BadNonce            ├── AccountDoesNotExist   ├── RejectedIdentifier
    │   ├── Malformed           ├── ExternalAccountRequired ├── UnsupportedIdentifier
    │   ├── RateLimited         ├── Unauthorized          ├── InvalidProfile
    │   ├── AlreadyReplaced     ├── OrderNotReady         ├── BadCsr
    │   └── ServerInternal      └── UserActionRequired
    ├── InvalidResponse        a response that is not what RFC 8555 promises (bad JSON, no Location)
    │   └── ResponseTooLarge   a body over the 16 MiB cap
    ├── TransportError         no response at all (connect, TLS, timeout); worth retrying
    ├── NotSupported           the directory lacks a feature (ARI, profiles, a profile name)
    ├── PollTimeout            a resource did not reach a final state before the deadline
    ├── AuthorizationFailed    an authorization became invalid (the challenges' errors inside)
    └── OrderFailed            an order became invalid (its problem inside)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar, Final

#: The namespace of the problem types RFC 8555 §6.7 (and its extensions) define.
ACME_ERROR_NS: Final = "urn:ietf:params:acme:error:"
#: A problem detail longer than this is cut: a hostile server must not fill conditions and logs.
MAX_DETAIL_CHARS: Final = 4096


class AcmeError(Exception):
    """Base of every error the acme layer raises."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Subproblem:
    """One entry of a problem's ``subproblems`` (RFC 8555 §6.7.1), usually about one identifier."""

    type: str
    detail: str = ""
    identifier_type: str | None = None
    identifier_value: str | None = None

    def __str__(self) -> str:
        text = f"{self.type}: "
        if self.identifier_type is not None:
            text += f"[{self.identifier_type}: {self.identifier_value or ''}] "
        return text + self.detail


def _truncate(detail: str) -> str:
    return detail if len(detail) <= MAX_DETAIL_CHARS else detail[:MAX_DETAIL_CHARS] + "…"


class AcmeProblem(AcmeError):
    """A problem document the server returned, raised as an exception.

    ``status`` is the document's ``status`` member, or the HTTP status when the document has none;
    ``retry_after`` is the response's Retry-After header, if any (rate limits, busy servers).
    """

    #: The short code (``badNonce``) a subclass stands for; empty on the generic class.
    CODE: ClassVar[str] = ""

    def __init__(
        self,
        *,
        type: str,
        detail: str = "",
        status: int = 0,
        title: str = "",
        instance: str = "",
        subproblems: Sequence[Subproblem] = (),
        retry_after: timedelta | None = None,
    ) -> None:
        self.type = type
        self.detail = _truncate(detail)
        self.status = status
        self.title = title
        self.instance = instance
        self.subproblems = tuple(subproblems)
        self.retry_after = retry_after
        super().__init__(str(self))

    @property
    def code(self) -> str:
        """The type without the ACME namespace (``badNonce``), or the whole type for other namespaces."""
        return self.type.removeprefix(ACME_ERROR_NS)

    @property
    def is_client_error(self) -> bool:
        """True for 4xx statuses: retrying the same request will not help (cert-manager's rule)."""
        return 400 <= self.status < 500

    def __str__(self) -> str:
        text = f"{self.status} {self.type}: {self.detail}"
        if self.subproblems:
            text += "; subproblems:" + "".join(f"\n\t{sub}" for sub in self.subproblems)
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type!r}, status={self.status}, detail={self.detail!r})"


class BadNonce(AcmeProblem):
    """The request's nonce was rejected; the client retries with a fresh one."""

    CODE = "badNonce"


class Malformed(AcmeProblem):
    """The request message was malformed (also what many servers answer for a bad ``replaces``)."""

    CODE = "malformed"


class RateLimited(AcmeProblem):
    """A rate limit was exceeded; ``retry_after`` says when to try again, if the server said."""

    CODE = "rateLimited"


class AlreadyReplaced(AcmeProblem):
    """The certificate named in ``replaces`` already has a replacement order (RFC 9773)."""

    CODE = "alreadyReplaced"


class AccountDoesNotExist(AcmeProblem):
    """``onlyReturnExisting`` found no account for the key."""

    CODE = "accountDoesNotExist"


class ExternalAccountRequired(AcmeProblem):
    """The server requires External Account Binding for new accounts."""

    CODE = "externalAccountRequired"


class Unauthorized(AcmeProblem):
    """The client lacks authorization for the action."""

    CODE = "unauthorized"


class RejectedIdentifier(AcmeProblem):
    """The server will not issue for an identifier."""

    CODE = "rejectedIdentifier"


class UnsupportedIdentifier(AcmeProblem):
    """An identifier is of an unsupported type."""

    CODE = "unsupportedIdentifier"


class InvalidProfile(AcmeProblem):
    """The order named a profile the server does not offer."""

    CODE = "invalidProfile"


class OrderNotReady(AcmeProblem):
    """Finalize was sent for an order that is not ``ready``."""

    CODE = "orderNotReady"


class BadCsr(AcmeProblem):
    """The CSR was unacceptable."""

    CODE = "badCSR"


class ServerInternal(AcmeProblem):
    """The server hit an internal error."""

    CODE = "serverInternal"


class UserActionRequired(AcmeProblem):
    """A person must visit ``instance`` (for example to agree to new terms of service)."""

    CODE = "userActionRequired"


_PROBLEM_CLASSES: Final[dict[str, type[AcmeProblem]]] = {
    cls.CODE: cls
    for cls in (
        BadNonce,
        Malformed,
        RateLimited,
        AlreadyReplaced,
        AccountDoesNotExist,
        ExternalAccountRequired,
        Unauthorized,
        RejectedIdentifier,
        UnsupportedIdentifier,
        InvalidProfile,
        OrderNotReady,
        BadCsr,
        ServerInternal,
        UserActionRequired,
    )
}


def problem_class(problem_type: str) -> type[AcmeProblem]:
    """The exception class for a problem type URN; the generic class for types without one."""
    if not problem_type.startswith(ACME_ERROR_NS):
        return AcmeProblem
    return _PROBLEM_CLASSES.get(problem_type.removeprefix(ACME_ERROR_NS), AcmeProblem)


def make_problem(
    *,
    type: str,
    detail: str = "",
    status: int = 0,
    title: str = "",
    instance: str = "",
    subproblems: Sequence[Subproblem] = (),
    retry_after: timedelta | None = None,
) -> AcmeProblem:
    """An :class:`AcmeProblem` of the subclass its ``type`` names."""
    return problem_class(type)(
        type=type,
        detail=detail,
        status=status,
        title=title,
        instance=instance,
        subproblems=subproblems,
        retry_after=retry_after,
    )


class InvalidResponse(AcmeError):
    """The server answered, but not with what RFC 8555 promises (undecodable body, missing header)."""


class ResponseTooLarge(InvalidResponse):
    """A response body exceeded the cap (cert-manager: 16 MiB)."""


class TransportError(AcmeError):
    """No response: connection refused, TLS failure, timeout. Transient; the caller may retry."""


class NotSupported(AcmeError):
    """The server's directory does not offer what was asked (ARI, profiles, a profile name)."""


class PollTimeout(AcmeError):
    """A polled resource was still not final when the deadline passed."""

    def __init__(self, message: str, *, url: str, last_status: str) -> None:
        super().__init__(message)
        self.url = url
        self.last_status = last_status


class AuthorizationFailed(AcmeError):
    """An authorization ended ``invalid`` (or another non-valid final state).

    The message reads as golang.org/x/crypto/acme's ``AuthorizationError``:
    ``"acme: authorization error for <identifier>: <challenge error>; <challenge error>"``.
    """

    def __init__(self, *, url: str, identifier: str, status: str, errors: Sequence[AcmeProblem]) -> None:
        self.url = url
        self.identifier = identifier
        self.status = status
        self.errors = tuple(errors)
        joined = "; ".join(str(error) for error in self.errors)
        prefix = f"acme: authorization error for {identifier}" if identifier else "acme: authorization error"
        super().__init__(f"{prefix}: {joined}")


class OrderFailed(AcmeError):
    """An order ended ``invalid``; ``problem`` is its ``error`` member, if it had one.

    The message reads as golang.org/x/crypto/acme's ``OrderError``:
    ``"acme: order <url> status: <status>; problem: <problem>"``.
    """

    def __init__(self, *, url: str, status: str, problem: AcmeProblem | None) -> None:
        self.url = url
        self.status = status
        self.problem = problem
        message = f"acme: order {url} status: {status}"
        if problem is not None:
            message += f"; problem: {problem}"
        super().__init__(message)
