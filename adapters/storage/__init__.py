"""Local storage adapters: the BlobStore port on a directory of the machine's own disk."""
