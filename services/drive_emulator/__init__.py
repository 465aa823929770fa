"""A Drive v3 emulator: the subset of Google Drive the project uses, with Drive's limits."""
