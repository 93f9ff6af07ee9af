"""The process: start-up, the embedded Redis, long polling or the webhook server, logs."""
