"""Operations tooling: private services, stack, backup, secrets, drills."""
