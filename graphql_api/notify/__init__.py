"""Delivery of alerts outside the API: signed webhooks fed by Kafka `deal_alerts`."""
