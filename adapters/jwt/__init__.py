"""PyJWT adapter of the TokenService port."""
