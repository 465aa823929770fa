"""The Uploader: accounts, files, GridFS staging, replication to Drive, events out."""
