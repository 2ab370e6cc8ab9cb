"""Global object identification for the whole API: the ``Node`` interface and the router's
``node(id:)`` / ``nodes(ids:)``, owned here so that one subgraph routes every refetch."""
