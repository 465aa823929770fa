"""Load tests: JMeter plans (built in :mod:`plans`, kept in ``jmeter/plans``) and their runner.

``fileserver load`` brings the local system up if needed, runs the plans with the devstack's
JMeter in non-GUI mode, and summarises the results (:mod:`results`).
"""
