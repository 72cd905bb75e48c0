"""Where objects live: the Store protocol, the Kubernetes API backend and the embedded local backend."""
