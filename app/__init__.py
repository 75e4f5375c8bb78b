"""smsgate: a self-hosted gateway for virtual numbers and SMS one-time codes."""
