"""The solver Pod and Service exactly as cert-manager builds them, and how podTemplates and flags change them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from certkeeper.acme.solvers.base import SolverConfigError
from certkeeper.acme.solvers.kube_http01_objects import (
    SolverPodOptions,
    adler32_label,
    build_pod,
    build_service,
    is_controlled_by,
    owner_reference,
    solver_labels,
    with_labels,
)
from tests.unit.acme.solvers.kube_http01_builders import DOMAIN, KEY, NAMESPACE, TOKEN, UID, http01_challenge

OPTIONS = SolverPodOptions(image="certkeeper:0.1.0")
IDENTITY = {
    "acme.cert-manager.io/http-domain": "920979054",
    "acme.cert-manager.io/http-token": "339084100",
    "acme.cert-manager.io/http01-solver": "true",
}
OWNER = {
    "apiVersion": "acme.cert-manager.io/v1",
    "kind": "Challenge",
    "name": "ch-1",
    "uid": UID,
    "controller": True,
    "blockOwnerDeletion": True,
}


def test_adler32_label_is_the_decimal_checksum() -> None:
    # The textbook adler32 example: 0x11E60398.
    assert adler32_label("Wikipedia") == "300286872"
    assert adler32_label("") == "1"


def test_solver_labels_hash_domain_and_token() -> None:
    assert solver_labels(http01_challenge()) == IDENTITY


def test_identity_labels_always_win_over_extra_labels() -> None:
    labels = with_labels(
        http01_challenge(),
        {"team": "a", "acme.cert-manager.io/http01-solver": "no"},
        {"team": "b", "acme.cert-manager.io/http-token": "x"},
    )
    assert labels == {**IDENTITY, "team": "b"}


def test_default_pod_is_cert_managers() -> None:
    assert build_pod(http01_challenge(), OPTIONS) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "cm-acme-http-solver-",
            "namespace": NAMESPACE,
            "labels": IDENTITY,
            "annotations": {
                "sidecar.istio.io/inject": "false",
                "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "automountServiceAccountToken": False,
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "restartPolicy": "OnFailure",
            "enableServiceLinks": False,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "acmesolver",
                    "image": "certkeeper:0.1.0",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["certkeeper", "acmesolver"],
                    "args": ["--listen-port=8089", f"--domain={DOMAIN}", f"--token={TOKEN}", f"--key={KEY}"],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "64Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                    },
                    "ports": [{"name": "http", "containerPort": 8089}],
                    "securityContext": {
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def test_flags_shape_the_pod() -> None:
    options = SolverPodOptions(
        image="quay.io/jetstack/cert-manager-acmesolver:v1.19.0",
        command=(),
        resource_request_cpu="20m",
        resource_request_memory="32Mi",
        resource_limits_cpu="1",
        resource_limits_memory="128Mi",
        run_as_non_root=False,
        extra_labels={"team": "edge", "acme.cert-manager.io/http-domain": "forged"},
        runtime_class_name="gvisor",
    )
    pod = build_pod(http01_challenge(), options)
    container = pod["spec"]["containers"][0]
    assert "command" not in container  # the acmesolver image's own entrypoint
    assert container["image"] == "quay.io/jetstack/cert-manager-acmesolver:v1.19.0"
    assert container["resources"] == {
        "requests": {"cpu": "20m", "memory": "32Mi"},
        "limits": {"cpu": "1", "memory": "128Mi"},
    }
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is False
    assert pod["spec"]["runtimeClassName"] == "gvisor"
    assert pod["metadata"]["labels"] == {**IDENTITY, "team": "edge"}


def test_pod_template_merges_as_cert_manager_does() -> None:
    template: dict[str, Any] = {
        "metadata": {
            "labels": {"app": "solver", "acme.cert-manager.io/http01-solver": "false"},
            "annotations": {"sidecar.istio.io/inject": "true", "note": "x"},
        },
        "spec": {
            "nodeSelector": {"zone": "a"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "edge", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
            "priorityClassName": "high",
            "serviceAccountName": "solver",
            "imagePullSecrets": [{"name": "regcred"}],
            "securityContext": {"runAsUser": 1000, "fsGroup": 2000, "seLinuxOptions": {"level": "s0"}},
            "resources": {"requests": {"cpu": "50m"}, "limits": {"memory": "96Mi"}},
        },
    }
    pod = build_pod(http01_challenge({"ingress": {"podTemplate": template}}), OPTIONS)
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["labels"] == {**IDENTITY, "app": "solver"}
    assert meta["annotations"] == {
        "sidecar.istio.io/inject": "true",
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
        "note": "x",
    }
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "zone": "a"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "edge", "effect": "NoSchedule"}]
    assert spec["affinity"] == template["spec"]["affinity"]
    assert spec["priorityClassName"] == "high"
    assert spec["serviceAccountName"] == "solver"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    # The template's security context replaces the default one entirely (runAsNonRoot and seccomp go).
    assert spec["securityContext"] == {"runAsUser": 1000, "fsGroup": 2000, "seLinuxOptions": {"level": "s0"}}
    assert spec["containers"][0]["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "100m", "memory": "96Mi"},
    }
    # The token stays off and the container hardening is untouched.
    assert spec["automountServiceAccountToken"] is False
    assert spec["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_gateway_pod_template_applies_too() -> None:
    challenge = http01_challenge(
        {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw"}], "podTemplate": {"spec": {"nodeSelector": {"z": "b"}}}}}
    )
    assert build_pod(challenge, OPTIONS)["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux", "z": "b"}


def test_empty_pod_template_changes_nothing() -> None:
    plain = build_pod(http01_challenge(), OPTIONS)
    assert build_pod(http01_challenge({"ingress": {"podTemplate": {}}}), OPTIONS) == plain
    assert build_pod(http01_challenge({"ingress": {"podTemplate": {"spec": {}, "metadata": {}}}}), OPTIONS) == plain


def test_default_service_is_cert_managers() -> None:
    assert build_service(http01_challenge(), SolverPodOptions(image="i", extra_labels={"team": "edge"})) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "generateName": "cm-acme-http-solver-",
            "namespace": NAMESPACE,
            "labels": {**IDENTITY, "team": "edge"},
            "annotations": {"auth.istio.io/8089": "NONE"},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "type": "NodePort",
            "ports": [{"name": "http", "port": 8089, "targetPort": 8089}],
            # The selector is the identity only: extra labels never narrow it.
            "selector": IDENTITY,
        },
    }


@pytest.mark.parametrize(
    ("http01", "kind"),
    [
        ({"ingress": {"serviceType": "ClusterIP"}}, "ClusterIP"),
        ({"ingress": {}}, "NodePort"),
        ({"gatewayHTTPRoute": {"serviceType": "ClusterIP"}}, "ClusterIP"),
        ({"gatewayHTTPRoute": {}}, "NodePort"),
    ],
    ids=["ingress-clusterip", "ingress-default", "gateway-clusterip", "gateway-default"],
)
def test_service_type_comes_from_the_solver(http01: dict[str, Any], kind: str) -> None:
    assert build_service(http01_challenge(http01), OPTIONS)["spec"]["type"] == kind


def test_service_needs_an_ingress_or_gateway_solver() -> None:
    with pytest.raises(SolverConfigError, match="neither HTTP01 Ingress nor Gateway solvers were found"):
        build_service(http01_challenge({}), OPTIONS)


def test_owner_reference_and_control() -> None:
    challenge = http01_challenge()
    assert owner_reference(challenge) == OWNER
    assert is_controlled_by({"metadata": {"ownerReferences": [OWNER]}}, challenge)
    assert not is_controlled_by({"metadata": {"ownerReferences": [{**OWNER, "controller": False}]}}, challenge)
    assert not is_controlled_by({"metadata": {"ownerReferences": [{**OWNER, "uid": "other"}]}}, challenge)
    assert not is_controlled_by({"metadata": {}}, challenge)
    assert not is_controlled_by({"metadata": {"ownerReferences": [{**OWNER, "uid": ""}]}}, http01_challenge(uid=""))


@pytest.mark.parametrize(
    ("field", "value"),
    [("resource_request_cpu", "ten"), ("resource_limits_memory", "64 Mi"), ("resource_request_memory", "")],
    ids=["word", "space", "empty"],
)
def test_options_refuse_bad_quantities(field: str, value: str) -> None:
    changes: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match="is not a resource quantity"):
        dataclasses.replace(OPTIONS, **changes)


def test_options_refuse_an_empty_image_and_copy_extra_labels() -> None:
    with pytest.raises(ValueError, match="image must not be empty"):
        SolverPodOptions(image="")
    labels = {"a": "1"}
    options = SolverPodOptions(image="i", extra_labels=labels)
    labels["b"] = "2"
    assert dict(options.extra_labels) == {"a": "1"}
