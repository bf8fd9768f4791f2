"""hpqueue's optimization layer (filled in as the optimizer lands)."""
