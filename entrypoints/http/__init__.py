"""The FastAPI inbound adapter: HTTP requests in, commands to handlers, responses out."""
