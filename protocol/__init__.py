"""The wire contract of inperson: messages, encoding, signatures, ephemeral ids, topics.

Pure: no network, disk, environment, logging setup or clock reads. Every other
package imports from here so that badges, gateway and server share one definition.
"""

PROTOCOL_VERSION = 1
