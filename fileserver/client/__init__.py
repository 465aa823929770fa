"""The fileserver client: a typed HTTP client for the Uploader and Downloader and the CLI on it.

It talks to any deployment (the local system, a cluster) through their public APIs only, so
that what the CLI does a script or another program can do the same way.
"""
