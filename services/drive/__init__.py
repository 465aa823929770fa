"""Google Drive client of the project: one async facade per account over the official library."""
