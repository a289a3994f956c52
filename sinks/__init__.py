"""Pluggable destinations for committed records, chosen by URL in configs/sinks.yaml."""
