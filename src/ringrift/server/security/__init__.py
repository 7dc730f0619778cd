"""Password hashing, the JWT keyring and token handling."""
