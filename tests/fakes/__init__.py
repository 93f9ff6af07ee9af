"""Local stand-ins for the services the bot talks to, for tests that run it over real HTTP."""
