"""One module per dialog of the counter window."""
