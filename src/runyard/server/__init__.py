"""App assembly: the platform object, the ASGI app, its lifespan, identity resolution and mounting."""
