"""The Downloader: hands out budget-safe Drive download URLs and serves precomputed statistics.

It learns accounts, files and replicas only from the Uploader's events, reserves every issued
URL's bytes against its account's daily budget through leases, and records each issued URL
durably for the Stats service. See ``docs/downloader.md``.
"""
