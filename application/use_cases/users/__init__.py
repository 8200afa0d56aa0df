"""Use cases about user accounts as resources: one's own profile, and superuser administration."""
