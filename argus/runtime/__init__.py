"""What every long-running process shares: settings, logs, metrics, trace context, GC tuning, the retry backoff."""
