"""The ``fileserver`` command: the local system, the devstack and everyday operations."""
