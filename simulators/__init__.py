"""Protocol-faithful provider simulators for tests and scripts/develop; nothing here imports the integration."""
