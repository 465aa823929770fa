"""The deployable services of fileserver: uploader, downloader, stats, drive (client + emulator).

Code used by more than one service lives in :mod:`services.shared`.
"""
