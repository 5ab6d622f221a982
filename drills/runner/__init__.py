"""Executes a scenario: stages, steps, gates, always-heal, signals, result.json, exit codes."""
