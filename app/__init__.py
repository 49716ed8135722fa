"""flexhook: receive Flexport webhooks, keep shipment records up to date, alert stakeholders."""
