"""Reads of tickets, one module per seam: what a caller may see (scoped), what
the ticket pages show (pages) and the dashboard's figures (dashboard). Importers
name the module they read from."""
