"""Typed models of fileserver's Kubernetes custom resources; the source of ``crds/``."""
