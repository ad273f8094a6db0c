"""Console services: the layer between the console's routes and the engine, handoff and knowledge."""
