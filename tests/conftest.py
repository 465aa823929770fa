"""Test-suite wiring: the devstack fixtures are shared by every test package."""

pytest_plugins = ["tests.fixtures.stack"]
