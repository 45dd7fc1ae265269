"""Badge firmware model and crowd simulator: signed sighting reports, taps and status over MQTT.

Pure core (badge, venue, crowd, frame, radio, simulation, truth) and two adapters:
``publisher`` (the only paho import) and ``runner`` (files, pacing).
"""
