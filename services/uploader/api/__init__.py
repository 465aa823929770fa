"""HTTP routers of the Uploader: thin, one service call per route."""
