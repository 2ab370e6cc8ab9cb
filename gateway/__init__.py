"""Ingress: the router (Hive Gateway, in router/) and the edge app (in edge/)."""
