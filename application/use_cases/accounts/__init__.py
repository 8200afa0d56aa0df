"""Use cases about accounts: registration, sign-in, profiles and sessions."""
