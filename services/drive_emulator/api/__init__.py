"""HTTP routers of the emulator: Drive v3 paths, OAuth token endpoint, web links, admin."""
