"""One router per resource; each route parses, calls one handler and shapes the response."""
