"""S3 adapters (aiobotocore): the BlobStore port on any S3-compatible object store."""
