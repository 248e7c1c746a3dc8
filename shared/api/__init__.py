"""The HTTP function `api`: routing, request models and handlers."""
