"""The HTTP-01 override annotations an Order carries, applied to the solver its Challenge gets.

Follows ``applyIngressParameterAnnotationOverrides`` and ``applyGatewayAPIAnnotationParentRefOverride``
in ``pkg/controller/acmeorders/util.go`` (the annotations come from the Certificate, often written by
the certificate-shim for an Ingress or Gateway):

* ``acme.cert-manager.io/http01-override-ingress-name`` / ``-ingress-class`` /
  ``-ingress-ingressclassname``: at most one; any of them clears the solver's ``name``, ``class`` and
  ``ingressClassName`` and sets its own (only for ``http01.ingress`` solvers);
* ``acme.cert-manager.io/http01-parentrefname`` with ``-parentrefkind`` (both or neither), and
  optionally ``-parentrefnamespace`` (default: the Order's namespace): the solver's parentRefs that
  point at the same name and namespace (and kind, or no kind) are replaced by that one; a
  ``gatewayHTTPRoute`` solver of an annotated Order must end up with at least one parentRef.

An Order without annotations keeps its solver as it is, as in cert-manager. Errors carry
cert-manager's messages. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from certkeeper.acme.solvers.base import SolverConfigError
from certkeeper.api.acme_solvers import ACMEChallengeSolver, ParentReference
from certkeeper.api.annotations import (
    ACME_HTTP01_INGRESS_CLASS_NAME_OVERRIDE_ANNOTATION,
    ACME_HTTP01_INGRESS_CLASS_OVERRIDE_ANNOTATION,
    ACME_HTTP01_INGRESS_NAME_OVERRIDE_ANNOTATION,
    ACME_HTTP01_PARENT_REF_KIND_ANNOTATION,
    ACME_HTTP01_PARENT_REF_NAME_ANNOTATION,
    ACME_HTTP01_PARENT_REF_NAMESPACE_ANNOTATION,
)


def _ingress_overrides(solver: ACMEChallengeSolver, annotations: Mapping[str, str]) -> ACMEChallengeSolver:
    http01 = solver.http01
    if http01 is None or http01.ingress is None:
        return solver
    name = annotations.get(ACME_HTTP01_INGRESS_NAME_OVERRIDE_ANNOTATION)
    class_ = annotations.get(ACME_HTTP01_INGRESS_CLASS_OVERRIDE_ANNOTATION)
    class_name = annotations.get(ACME_HTTP01_INGRESS_CLASS_NAME_OVERRIDE_ANNOTATION)
    given = [value for value in (name, class_, class_name) if value is not None]
    if len(given) > 1:
        raise SolverConfigError("may not specify more than one of: name, class, ingressClassName override annotations")
    if not given:
        return solver
    ingress = msgspec.structs.replace(http01.ingress, name=name, class_=class_, ingress_class_name=class_name)
    return msgspec.structs.replace(solver, http01=msgspec.structs.replace(http01, ingress=ingress))


def _parent_ref_override(
    solver: ACMEChallengeSolver, annotations: Mapping[str, str], namespace: str
) -> ACMEChallengeSolver:
    http01 = solver.http01
    if http01 is None or http01.gateway_http_route is None:
        return solver
    route = http01.gateway_http_route
    name = annotations.get(ACME_HTTP01_PARENT_REF_NAME_ANNOTATION)
    kind = annotations.get(ACME_HTTP01_PARENT_REF_KIND_ANNOTATION)
    if (name is None) != (kind is None):
        raise SolverConfigError("cannot specify only one of parentRefName, parentRefKind override annotations")
    parent_refs = list(route.parent_refs or [])
    if name is not None and kind is not None:
        target_namespace = annotations.get(ACME_HTTP01_PARENT_REF_NAMESPACE_ANNOTATION) or namespace
        parent_refs = [
            ref
            for ref in parent_refs
            # The issuer's ref to the same target gives way; a ref without a kind matches any kind.
            if not (ref.namespace == target_namespace and ref.name == name and (ref.kind is None or ref.kind == kind))
        ]
        parent_refs.append(ParentReference(name=name, namespace=target_namespace, kind=kind))
    if not parent_refs:
        raise SolverConfigError("must specify parentRefs either through annotations or solver config")
    route = msgspec.structs.replace(route, parent_refs=parent_refs)
    return msgspec.structs.replace(solver, http01=msgspec.structs.replace(http01, gateway_http_route=route))


def apply_http01_overrides(
    solver: ACMEChallengeSolver, annotations: Mapping[str, str] | None, namespace: str
) -> ACMEChallengeSolver:
    """The solver a Challenge of an Order with ``annotations`` in ``namespace`` uses.

    Raises SolverConfigError when the annotations contradict each other or leave a gateway solver
    without parentRefs.
    """
    if annotations is None:
        return solver
    return _parent_ref_override(_ingress_overrides(solver, annotations), annotations, namespace)


__all__ = ["apply_http01_overrides"]
