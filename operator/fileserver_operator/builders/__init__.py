"""Pure builders: status patches, API payloads and scaling decisions from plain data.

Nothing here does I/O, so each rule is unit-tested without a cluster; handlers gather the
inputs, call a builder and write what it returns.
"""
