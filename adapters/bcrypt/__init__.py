"""bcrypt adapter of the PasswordHasher port."""
