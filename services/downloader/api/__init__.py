"""HTTP routers of the Downloader, one module per resource."""
