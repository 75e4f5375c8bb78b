"""Cross-domain read models for operators: search, history, export, reports, accounts."""
