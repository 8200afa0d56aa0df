"""Use cases about items: create, read, list, change and delete, owner-or-superuser."""
