"""The operating system's own services: the real clock."""
