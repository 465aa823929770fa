"""The devstack: every server fileserver needs, installed, built and started by the project.

No Docker engine runs on the development and CI machines, so each server runs as a local
process on loopback with its own port and data folder under the project's state folder.
Versions come from ``versions.toml``; built binaries are cached outside the work tree.
"""
