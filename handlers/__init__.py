"""Channel-agnostic conversations: the engine, the flows, and the rendering of texts."""
