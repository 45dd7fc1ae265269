"""The HTTP layer: routes, raw-body readers and OpenAPI additions. Only this layer knows HTTP."""
