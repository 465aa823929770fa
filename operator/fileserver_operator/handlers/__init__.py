"""kopf handlers, one module per resource; ``fileserver_operator.main`` imports them all."""
