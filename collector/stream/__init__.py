"""The live stream: an in-process broadcast bus and the SSE route."""
