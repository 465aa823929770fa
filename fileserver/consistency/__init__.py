"""The convergence checker: do the Uploader, Drive, the Downloader's catalog and the statistics
tell one story? ``collect`` reads every side, ``compare`` (pure) lists what disagrees."""
