"""Code shared by the services: settings helpers, metrics, logging, event schemas."""
