"""Stats: turns the Downloader's issued-URL events into per-file and per-account increments.

It has no database (specification item 4): it consumes the ``stats`` queue, computes, and
writes the results back through the Downloader's internal API. See ``docs/downloader.md``.
"""
