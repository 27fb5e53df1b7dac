"""HR events (joiner, mover, leaver) from the municipality's HR system, each applied once by its id."""
