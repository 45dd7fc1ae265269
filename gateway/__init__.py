"""The on-site gateway: MQTT ingest, verification, pairing, meetings, TinyDB journal, forwarding.

Entry point: ``gateway.service.run_gateway`` (``python -m gateway`` runs it with
``GatewaySettings()``). Imports only ``protocol`` and third-party libraries.
"""
