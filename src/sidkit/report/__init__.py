"""HTML report with plots."""
