"""One file per provider, each with the same shape: lazy SDK import, request mapping,
``_map_usage``, ``_map_errors``."""
