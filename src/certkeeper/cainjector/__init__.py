"""The cainjector: keeps CA bundles of webhook configurations, APIServices and CRD conversion webhooks
in step with the CA of a Secret, a Certificate or the API server (cert-manager's ``cainjector``).

Modules: ``sources`` (pure: which source, may it be read), ``gather`` (reads the CA), ``bundle`` (pure:
merging into the existing bundle), ``targets`` (pure: the target kinds and their apply configurations),
``reconciler`` (one target) and ``injector`` (informers, indexes, controllers). ``certkeeper cainjector``
(``cli/cainjector.py``) is the composition root.
"""

from certkeeper.cainjector.bundle import Bundle, BundleError, append_certificates_to_bundle, inject_ca
from certkeeper.cainjector.injector import (
    BY_INJECT_CA_FROM,
    BY_INJECT_CA_FROM_SECRET,
    TARGET_NAMES,
    CAInjector,
    InjectorOptions,
)
from certkeeper.cainjector.reconciler import FIELD_MANAGER, TargetReconciler, decide
from certkeeper.cainjector.sources import CAData, Refusal, Scope, SourceKind
from certkeeper.cainjector.targets import (
    ALL_TARGETS,
    API_SERVICES,
    CUSTOM_RESOURCE_DEFINITIONS,
    LIST_MAP_KEYS,
    MUTATING_WEBHOOK_CONFIGURATIONS,
    VALIDATING_WEBHOOK_CONFIGURATIONS,
    Injection,
    InjectTarget,
)

__all__ = [
    "ALL_TARGETS",
    "API_SERVICES",
    "BY_INJECT_CA_FROM",
    "BY_INJECT_CA_FROM_SECRET",
    "CUSTOM_RESOURCE_DEFINITIONS",
    "FIELD_MANAGER",
    "LIST_MAP_KEYS",
    "MUTATING_WEBHOOK_CONFIGURATIONS",
    "TARGET_NAMES",
    "VALIDATING_WEBHOOK_CONFIGURATIONS",
    "Bundle",
    "BundleError",
    "CAData",
    "CAInjector",
    "InjectTarget",
    "Injection",
    "InjectorOptions",
    "Refusal",
    "Scope",
    "SourceKind",
    "TargetReconciler",
    "append_certificates_to_bundle",
    "decide",
    "inject_ca",
]
