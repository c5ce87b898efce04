"""The rule engine: specs, registry, routing, clients, modes, alerts."""
