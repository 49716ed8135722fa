"""The public side of a shipment: pages anyone with a link may open, without signing in."""
