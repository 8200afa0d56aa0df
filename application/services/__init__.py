"""Collaborators of the use cases that are not use cases themselves: opening and ending
sessions, throttling, access policies, and what authentication remembers of users."""
