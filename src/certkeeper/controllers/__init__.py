"""Reconcilers: each gathers the state it needs from informer caches, decides with pure functions, and
returns an Outcome that the runtime writes. One module per cert-manager controller."""
