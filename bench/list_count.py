"""What does the total (`X-Total-Count`) add to a page of `GET /api/v1/items?limit=50`?

Makes a database of its own on the PostgreSQL server at URL (dropped at the end), gives one
owner ITEMS items, then times through the SQL repository, interleaved: the first page alone;
the page with the owner's total as the listing reads it (a row of `item_counts`, in the same
statement); the page and that total read apart (two round trips); and, for reference, the
page and a `count(*)` over the owner's items, as the total used to be read.

    uv run python bench/list_count.py postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \
        [--items 100000] [--rounds 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url

from adapters.memory.events import RecordingPublisher
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.migrate import upgrade_async
from adapters.sqlalchemy.tables import items
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.ids import new_id
from domain.users import EmailAddress, User

PAGE = 50
_COUNT = "UPDATE item_counts SET count = $2 WHERE owner_id = $1"
_FILL = """
INSERT INTO items (id, owner_id, title, description, version, created_at, updated_at)
SELECT gen_random_uuid(), $1, 'item ' || n, NULL, 1, at, at
FROM generate_series(1, $3) AS n, LATERAL (SELECT $2::timestamptz + n * interval '1 ms') AS t(at)
"""


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _fill(url: URL, owner: uuid.UUID, count: int) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        async with conn.transaction():  # as the repository would: items and count together
            start = datetime.now(UTC) - timedelta(days=30)
            await conn.execute(_FILL, owner, start, count)
            await conn.execute(_COUNT, owner, count)
        await conn.execute("VACUUM ANALYZE items")
    finally:
        await conn.close()


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"median {statistics.median(ordered) * 1e3:6.3f} ms   p99 {p99 * 1e3:6.3f} ms"


async def measure(url: URL, count: int, rounds: int) -> None:
    await upgrade_async(url.render_as_string(hide_password=False))
    engine = create_engine(url.render_as_string(hide_password=False), pool_size=2, max_overflow=0)
    now = datetime.now(UTC)
    owner = User.register(
        user_id=new_id(now),
        email=EmailAddress("lists@example.com"),
        hashed_password="unused",
        full_name=None,
        now=now,
    )
    async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
        await uow.users.add(owner)
        await uow.commit()
    await _fill(url, owner.id, count)
    count_all = select(func.count()).select_from(items).where(items.c.owner_id == owner.id)

    async def page_only(uow: SqlAlchemyUnitOfWork) -> None:
        await uow.items.list_for_owner(owner.id, skip=0, limit=PAGE)

    async def page_with_total(uow: SqlAlchemyUnitOfWork) -> None:
        _, total = await uow.items.list_for_owner_with_total(owner.id, skip=0, limit=PAGE)
        assert total == count

    async def page_and_total(uow: SqlAlchemyUnitOfWork) -> None:
        await uow.items.list_for_owner(owner.id, skip=0, limit=PAGE)
        assert await uow.items.count_for_owner(owner.id) == count

    async def page_and_count_all(uow: SqlAlchemyUnitOfWork) -> None:
        await uow.items.list_for_owner(owner.id, skip=0, limit=PAGE)
        async with engine.connect() as conn:  # the statement the total used to be
            assert (await conn.execute(count_all)).scalar_one() == count

    runs: dict[str, Callable[[SqlAlchemyUnitOfWork], Awaitable[None]]] = {
        "page alone": page_only,
        "page with its total": page_with_total,
        "page, then total": page_and_total,
        "page + count(*)": page_and_count_all,
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for round_ in range(rounds + 20):  # the first 20 warm caches and plans
            for name, run in runs.items():
                if name == "page + count(*)" and round_ % 10:
                    continue  # slow: a tenth of the rounds is plenty
                start = time.perf_counter()
                async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
                    await run(uow)
                if round_ >= 20:
                    samples[name].append(time.perf_counter() - start)
    finally:
        await engine.dispose()
    base = statistics.median(samples["page alone"])
    print(f"{count} items of one owner, first page of {PAGE}, one caller:")
    for name, taken in samples.items():
        ratio = statistics.median(taken) / base
        print(f"  {name:20} {_ms(taken)}   {ratio:5.2f} x the page")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="postgresql+asyncpg:// URL of a server to make a database on")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    server = make_url(args.url)
    url = server.set(database=f"portico_bench_{uuid.uuid4().hex[:8]}")
    admin = await asyncpg.connect(_dsn(server))
    try:
        await admin.execute(f'CREATE DATABASE "{url.database}"')
        try:
            await measure(url, args.items, args.rounds)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
