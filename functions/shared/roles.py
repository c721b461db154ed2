"""The roles an account may hold, in the order they are listed: what the authorizer passes on and what a route
may require. A module of its own so that the authorizer, which checks roles but serves no route, does not
import the HTTP resolver to know them."""

from __future__ import annotations

ROLES = ("worker", "manager", "admin", "accountant")
