"""The ingest gateway: authenticate, validate, publish to Kafka, acknowledge only once durable."""
