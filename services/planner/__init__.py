"""Capacity and cost planner (issue 9): accounts, pods, bytes, bottlenecks and dollars per scale.

:mod:`services.planner.model` is the one capacity model; the operator's scaling rule imports
:func:`services.planner.model.pods_for_budget` from it, so planning and scaling never disagree.
"""
