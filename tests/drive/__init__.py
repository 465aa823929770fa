"""Tests of the Drive client (services/drive)."""
