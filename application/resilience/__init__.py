"""What keeps the business rules standing when a dependency is slow or lost: the item cache's
write-through, the denylist's per-process mirror, delivery that one failing receiver cannot
starve. None of it is a business rule; handlers read the same without it."""
