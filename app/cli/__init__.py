"""The `smsgate` command and its sub-commands."""
