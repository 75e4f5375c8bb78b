"""Accounts: who holds a balance and tokens. Money moves only through app.ledger."""
