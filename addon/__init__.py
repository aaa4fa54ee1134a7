"""mitmproxy integration: turning requests into fields, applying verdicts, audit, the CLI."""
