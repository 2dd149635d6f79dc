"""The API's resources, one module per tag of the official spec (written once, async)."""
