"""Speed layer: Structured Streaming jobs from Kafka (archive to the lake, deal tables)."""
