"""Small callable types shared by ports and handlers."""

from collections.abc import Callable

from application.ports.unit_of_work import UnitOfWork

UnitOfWorkFactory = Callable[[], UnitOfWork]
"""Makes a fresh unit of work; handlers are built once and open one per call."""
