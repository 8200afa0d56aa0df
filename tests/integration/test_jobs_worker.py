"""The durable jobs with real processes: `portico serve` writes them, `portico worker` processes
run them against a real SMTP server (aiosmtpd in this process), and `portico jobs` inspects and
retries them, on PostgreSQL; the embedded default (`serve` running its own jobs) on SQLite.

The mail server can refuse a recipient (550 at RCPT) and hold the first message to a recipient
after its DATA has arrived, unanswered, until the test ends: a send hanging mid-way, during
which a worker is killed or told to stop. It records a message when its DATA arrives, so a
message whose sender died before the answer counts as delivered: the worst case, a duplicate,
which the `Message-ID` (`<job-id@portico.test>`, the same on every attempt) makes recognisable.

One API process (JOBS_IN_PROCESS=false) and one database serve the PostgreSQL tests; each test
mails addresses of its own and starts its own workers, so a job another test left behind (the
SIGTERM tests stop theirs mid-send) costs it time, never an assertion. Figures are printed (`-s`).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiosmtpd.controller import Controller

from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.jobs import SqlAlchemyJobQueue
from adapters.sqlalchemy.migrate import upgrade
from application.ports.jobs import JobRecord
from tests.contract.databases import run_blocking, sqlite_url
from tests.integration.portico_process import PorticoProcess, portico_environment
from tests.integration.servers import ApiServer, free_port, logs_shown_on_failure, migrated_database
from tests.integration.workers import PorticoWorker, portico, socket_owner

pytestmark = pytest.mark.slow

T = TypeVar("T")
PASSWORD = "correct horse battery"
MAIL_DOMAIN = "portico.test"
WELCOME, RECOVERY = "mail.welcome", "mail.password-recovery"
DELIVERY_TIMEOUT = 20.0
GRACE = 1
WORKER_SETTINGS = {
    "JOBS_IN_PROCESS": "false",
    "JOB_POLL_SECONDS": "0.1",
    "JOB_RETRY_BASE_SECONDS": "0.2",
    "JOB_LEASE_SECONDS": "2",  # a dead worker's job is taken over within about 2 s
    "GRACEFUL_TIMEOUT_SECONDS": str(GRACE),
}


# --- the mail server --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message as the mail server received it."""

    to: tuple[str, ...]
    subject: str
    message_id: str
    body: str
    sent_by: int | None = None  # what `Mailbox.identify` said of the client's port


class Mailbox:
    """An aiosmtpd handler that records each message and can refuse or hold recipients.

    It runs on the controller's thread; the test thread sets `refused`, `hold`, `pace` (seconds
    each message takes to accept) and `identify` (who sends from a client port) before the mail
    is sent, and reads what was recorded.
    """

    def __init__(self) -> None:
        self.url = ""  # smtp://127.0.0.1:PORT, once its server listens
        self.deliveries: list[Delivery] = []
        self.refused: set[str] = set()
        self.refusals: list[tuple[str, float]] = []  # (recipient, time.monotonic())
        self.hold: set[str] = set()
        self.held: list[Delivery] = []
        self.release = threading.Event()
        self.pace = 0.0
        self.identify: Callable[[int], int | None] = lambda port: None

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: object
    ) -> str:
        if address in self.refused:
            self.refusals.append((address, time.monotonic()))
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: Any, envelope: Any) -> str:
        delivery = _parsed(envelope, self.identify(session.peer[1]))
        self.deliveries.append(delivery)  # the whole message is here: the sender cannot undo it
        if self.hold & set(delivery.to):
            self.hold = self.hold - set(delivery.to)  # the next message to them goes through
            self.held.append(delivery)
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        await asyncio.sleep(self.pace)
        return "250 Message accepted for delivery"

    def to(self, address: str, subject: str | None = None) -> list[Delivery]:
        """What `address` received (with `subject`, if given), in order of arrival."""
        return [
            d
            for d in list(self.deliveries)
            if address in d.to and (subject is None or d.subject == subject)
        ]


def _parsed(envelope: Any, sent_by: int | None) -> Delivery:
    message: Any = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    to, subject, message_id = tuple(envelope.rcpt_tos), message["Subject"], message["Message-ID"]
    return Delivery(to, subject, message_id, message.get_content(), sent_by)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A mailbox whose SMTP server listens at `mailbox.url`."""
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.url = f"smtp://127.0.0.1:{port}"
    try:
        yield box
    finally:
        box.release.set()
        controller.stop()


# --- processes --------------------------------------------------------------------------------


class Processes:
    """The test's own `portico` processes: shown if it fails, stopped after it."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[ApiServer] = []

    def workers(self, env: Mapping[str, str], *names: str) -> list[PorticoWorker]:
        """Start one worker per name, in parallel; return once each has started."""
        workers = [PorticoWorker(name, env, self.log_dir) for name in names]
        for worker in workers:
            self.started.append(worker)
            worker.start()
        for worker in workers:
            worker.wait_ready()
        return workers

    def serve(self, env: Mapping[str, str]) -> PorticoProcess:
        """Start `portico serve`; return once it is ready."""
        server = PorticoProcess("embedded", env, self.log_dir)
        self.started.append(server)
        server.start()
        server.wait_ready()
        return server


@pytest.fixture
def processes(
    request: pytest.FixtureRequest, tmp_path: Path, mailbox: Mailbox
) -> Iterator[Processes]:
    """Stopped before the mail server (they may be sending to it)."""
    started = Processes(tmp_path)
    failed_before = request.session.testsfailed
    yield started
    for process in started.started:
        process.stop()
    if request.session.testsfailed > failed_before:
        for process in started.started:
            print(f"----- {process.log_path.name} -----\n{process.log()}")


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[str]:
    with migrated_database(postgres_url, "jobs") as url:
        yield url


@pytest.fixture(scope="module")
def api(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PorticoProcess]:
    """`portico serve` writing jobs it does not run (JOBS_IN_PROCESS=false)."""
    env = portico_environment(
        database, JOBS_IN_PROCESS="false", RECOVERY_LIMIT_PER_ADDRESS="100000"
    )
    server = PorticoProcess("jobs-api", env, tmp_path_factory.mktemp("jobs-api"))
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(request: pytest.FixtureRequest, api: PorticoProcess) -> Iterator[httpx.Client]:
    with logs_shown_on_failure(request, [api]), httpx.Client(base_url=api.url, timeout=10) as c:
        yield c


@pytest.fixture
def worker_env(database: str, mailbox: Mailbox) -> dict[str, str]:
    """A worker's environment: the test database, the mailbox, short polls, leases, grace."""
    return portico_environment(
        database,
        SMTP_URL=mailbox.url,
        MAIL_FROM=f"Portico <no-reply@{MAIL_DOMAIN}>",
        **WORKER_SETTINGS,
    )


# --- helpers ----------------------------------------------------------------------------------


def eventually(check: Callable[[], T | None], what: str, timeout: float = DELIVERY_TIMEOUT) -> T:
    """The first truthy value `check` returns, polling until `timeout` s; else fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}", pytrace=False)
        time.sleep(0.05)


def new_address(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.com"


def register(client: httpx.Client, address: str) -> None:
    response = client.post("/api/v1/auth/register", json={"email": address, "password": PASSWORD})
    assert response.status_code == 201, response.text


def job_records(database_url: str) -> list[JobRecord]:
    """Every job in the database, as the queue adapter reads them."""

    async def read() -> list[JobRecord]:
        engine = create_engine(database_url, pool_size=1)
        try:
            return await SqlAlchemyJobQueue(engine).list(state=None, limit=10_000)
        finally:
            await engine.dispose()

    return run_blocking(read())


def job_of(database_url: str, kind: str, address: str) -> JobRecord:
    """The one job of `kind` written for `address`."""
    [job] = [
        j for j in job_records(database_url) if j.kind == kind and j.payload.get("email") == address
    ]
    return job


def settled(database_url: str, kind: str, address: str, state: str) -> JobRecord | None:
    """The job of `kind` for `address` if it is in `state` now."""
    job = job_of(database_url, kind, address)
    return job if job.state == state else None


def message_id(job: JobRecord) -> str:
    return f"<{job.id}@{MAIL_DOMAIN}>"


def table_rows(listing: str) -> dict[str, list[str]]:
    """`portico jobs list` output as {job id: [state, tries, kind, run after, error...]}."""
    header, *rows = listing.splitlines()
    assert header.split() == ["ID", "STATE", "TRIES", "KIND", "RUN", "AFTER", "LAST", "ERROR"]
    return {row.split()[0]: row.split()[1:] for row in rows}


# --- 1. one registration, one worker, one mail ------------------------------------------------


def test_a_registration_is_welcomed_by_exactly_one_mail_from_a_separately_started_worker(
    client, database, mailbox, worker_env, processes
):
    address = new_address("welcome")
    register(client, address)
    processes.workers(worker_env, "only")

    job = eventually(lambda: settled(database, WELCOME, address, "done"), "welcome job done")
    [mail] = mailbox.to(address)
    assert mail.subject == "Welcome to Portico"
    assert mail.message_id == message_id(job)
    assert "Welcome to Portico" in mail.body
    assert job.attempts == 1


# --- 2. no worker: the jobs wait; a worker: they run ------------------------------------------


def test_recovery_requests_wait_without_a_worker_and_are_mailed_once_a_worker_starts(
    client, database, mailbox, worker_env, processes
):
    known = [new_address("recover"), new_address("recover")]
    unknown = new_address("nobody")
    for address in known:
        register(client, address)
    for address in [*known, unknown]:
        answer = client.post("/api/v1/auth/password-recovery", json={"email": address})
        assert answer.status_code == 202, answer.text

    listing = portico(worker_env, "jobs", "list", "--state", "waiting", "--limit", "100")
    assert listing.returncode == 0, listing.stderr
    waiting = table_rows(listing.stdout)
    recoveries = [job_of(database, RECOVERY, address) for address in [*known, unknown]]
    for job in recoveries:
        assert waiting[str(job.id)][:3] == ["waiting", "0", RECOVERY]
    assert mailbox.deliveries == []

    processes.workers(worker_env, "late")

    for address, job in zip(known, recoveries[:2], strict=True):
        eventually(lambda a=address: mailbox.to(a, "Reset your Portico password"), "a reset mail")
        [mail] = mailbox.to(address, "Reset your Portico password")
        assert mail.message_id == message_id(job)
        assert "Reset token: " in mail.body
    eventually(lambda: settled(database, RECOVERY, unknown, "done"), "the unknown address's job")
    assert mailbox.to(unknown) == []  # accepted like the others, and nothing is sent


# --- 3. a worker killed mid-send --------------------------------------------------------------


def test_a_job_whose_worker_is_killed_mid_send_is_taken_over_and_delivered_with_one_message_id(
    client, database, mailbox, worker_env, processes
):
    address = new_address("crash")
    mailbox.hold.add(address)
    register(client, address)
    [doomed] = processes.workers(worker_env, "doomed")
    eventually(lambda: mailbox.held, "the first send reaching DATA")

    doomed.kill()
    killed = time.monotonic()
    stranded = job_of(database, WELCOME, address)
    processes.workers(worker_env, "successor")
    job = eventually(lambda: settled(database, WELCOME, address, "done"), "the job taken over")
    print(f"\nkilled mid-send: delivered again {time.monotonic() - killed:.2f} s after the kill")

    assert (stranded.state, stranded.attempts) == ("running", 1)  # still leased to the dead one
    assert job.attempts == 2
    mails = mailbox.to(address)
    assert len(mails) == 2  # the held copy had arrived: a duplicate, and a recognisable one
    assert {mail.message_id for mail in mails} == {message_id(job)}


# --- 4. a refused recipient: failed for good, then retried by hand ----------------------------


def test_a_refused_recipient_fails_the_job_after_its_attempts_and_jobs_retry_requeues_it(
    client, database, mailbox, worker_env, processes
):
    address = new_address("refused")
    mailbox.refused.add(address)
    register(client, address)
    [worker] = processes.workers({**worker_env, "JOB_MAX_ATTEMPTS": "3"}, "refused")
    failed = eventually(lambda: settled(database, WELCOME, address, "failed"), "the job failed")
    assert worker.terminate(timeout=10)[1] == 0
    tried = [at for to, at in mailbox.refusals if to == address]
    gaps = [later - earlier for earlier, later in itertools.pairwise(tried)]
    print(f"\nrefused 3 times, retried after {', '.join(f'{gap:.2f} s' for gap in gaps)}")
    assert len(tried) == 3
    assert gaps[0] >= 0.2 * 0.75 and gaps[1] >= 0.4 * 0.75  # base 0.2 s, doubling, jitter
    assert mailbox.to(address) == []

    listing = portico(worker_env, "jobs", "list", "--state", "failed", "--limit", "100")
    assert listing.returncode == 0, listing.stderr
    state, tries, kind, _, *error = table_rows(listing.stdout)[str(failed.id)]
    assert (state, tries, kind) == ("failed", "3", WELCOME)
    assert " ".join(error) == failed.last_error
    assert "DependencyUnavailable" in " ".join(error)

    retried = portico(worker_env, "jobs", "retry", str(failed.id))
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() == f"job {failed.id} ({WELCOME}) is waiting again"
    requeued = job_of(database, WELCOME, address)
    assert (requeued.state, requeued.attempts) == ("waiting", 0)

    mailbox.refused.clear()
    processes.workers(worker_env, "after-retry")
    job = eventually(lambda: settled(database, WELCOME, address, "done"), "the retried job done")
    [mail] = mailbox.to(address)
    assert mail.message_id == message_id(failed)
    assert job.attempts == 1


def test_a_job_failed_by_a_refusal_keeps_the_servers_answer_as_its_error(
    client, database, mailbox, worker_env, processes
):
    address = new_address("refused")
    mailbox.refused.add(address)
    register(client, address)
    processes.workers({**worker_env, "JOB_MAX_ATTEMPTS": "1"}, "refused")

    failed = eventually(lambda: settled(database, WELCOME, address, "failed"), "the job failed")

    assert "550" in str(failed.last_error), failed.last_error


# --- 5. SIGTERM ---------------------------------------------------------------------------------


def test_sigterm_stops_an_idle_worker_promptly_with_status_0(postgres_url, worker_env, processes):
    with migrated_database(postgres_url, "idle") as empty:  # no job at all to wait for
        [worker] = processes.workers({**worker_env, "DATABASE_URL": empty}, "idle")
        took, status = worker.terminate(timeout=10)

    print(f"\nidle worker: exited {status} {took:.2f} s after SIGTERM")
    assert status == 0, worker.log()
    assert took < 2.0


def _held_mid_send(client: httpx.Client, mailbox: Mailbox, env: dict[str, str], processes):
    """A worker whose welcome job hangs after DATA (GRACEFUL_TIMEOUT_SECONDS=1): (the worker,
    the address)."""
    address = new_address("drain")
    mailbox.hold.add(address)
    register(client, address)
    [worker] = processes.workers(env, "stopping")
    eventually(lambda: mailbox.held, "the first send reaching DATA")
    return worker, address


def test_sigterm_mid_send_exits_0_within_the_graceful_timeout(
    client, mailbox, worker_env, processes
):
    worker, _ = _held_mid_send(client, mailbox, worker_env, processes)

    took, status = worker.terminate(timeout=GRACE + 2)

    print(f"\nworker mid-send: exited {status} {took:.2f} s after SIGTERM (grace {GRACE} s)")
    assert status == 0, worker.log()


def test_sigterm_mid_send_hands_the_job_back_uncounted_and_the_next_worker_delivers_it(
    client, database, mailbox, worker_env, processes
):
    stopping, address = _held_mid_send(client, mailbox, worker_env, processes)

    took, status = stopping.terminate(timeout=GRACE + 2)
    handed_back = job_of(database, WELCOME, address)
    print(f"\nworker mid-send: exited {status} {took:.2f} s after SIGTERM (grace {GRACE} s)")

    assert status == 0, stopping.log()
    assert took >= GRACE  # it let the job run for the grace time first
    assert (handed_back.state, handed_back.attempts) == ("waiting", 0)
    assert "handed back unfinished" in stopping.log()

    processes.workers(worker_env, "next")
    job = eventually(lambda: settled(database, WELCOME, address, "done"), "the job delivered")
    assert job.attempts == 1
    assert {mail.message_id for mail in mailbox.to(address)} == {message_id(job)}


# --- 6. several workers -------------------------------------------------------------------------


def test_three_workers_deliver_thirty_welcome_mails_each_exactly_once(
    client, database, mailbox, worker_env, processes
):
    workers = processes.workers(worker_env, "one", "two", "three")
    mailbox.identify = partial(socket_owner, [worker.pid for worker in workers])
    mailbox.pace = 0.05  # one worker alone would need 1.5 s: the others' polls find a backlog
    addresses = [new_address(f"crowd{n}") for n in range(30)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda address: register(client, address), addresses))

    def all_done() -> list[JobRecord] | None:
        jobs = [j for j in job_records(database) if j.payload.get("email") in addresses]
        return jobs if len(jobs) == 30 and all(j.state == "done" for j in jobs) else None

    jobs = eventually(all_done, "30 welcome jobs done")
    print(f"\n30 registrations mailed by 3 workers in {time.monotonic() - started:.2f} s")
    mails = [mail for address in addresses for mail in mailbox.to(address)]
    assert len(mails) == 30
    assert sorted(mail.to[0] for mail in mails) == sorted(addresses)
    assert Counter(mail.message_id for mail in mails) == Counter(message_id(j) for j in jobs)
    assert [j.attempts for j in jobs] == [1] * 30
    shares = Counter(mail.sent_by for mail in mails)
    print(f"mails sent per worker: {sorted(shares.values())}")
    assert set(shares) == {worker.pid for worker in workers}  # each took its share
    assert [worker.terminate(timeout=10)[1] for worker in workers] == [0, 0, 0]


# --- 7. the embedded default --------------------------------------------------------------------


def test_portico_serve_alone_on_sqlite_delivers_the_welcome_and_the_recovery_mail(
    tmp_path, mailbox, processes
):
    url = sqlite_url(tmp_path / "embedded.db")
    upgrade(url)
    env = portico_environment(
        url, SMTP_URL=mailbox.url, MAIL_FROM=f"Portico <no-reply@{MAIL_DOMAIN}>"
    )
    env.pop("JOBS_IN_PROCESS", None)  # the default
    server = processes.serve(env)
    address = new_address("embedded")

    with httpx.Client(base_url=server.url, timeout=10) as client:
        register(client, address)
        [welcome] = eventually(lambda: mailbox.to(address, "Welcome to Portico"), "welcome")
        answer = client.post("/api/v1/auth/password-recovery", json={"email": address})
        assert answer.status_code == 202, answer.text
        [reset] = eventually(lambda: mailbox.to(address, "Reset your Portico password"), "reset")
        token = reset.body.split("Reset token: ")[1].split()[0]
        body = {"token": token, "new_password": "a brand new passphrase"}
        used = client.post("/api/v1/auth/password-reset", json=body)

    assert used.status_code == 204, used.text  # the mailed token is the stored one
    for mail in (welcome, reset):
        assert mail.message_id.endswith(f"@{MAIL_DOMAIN}>")
        uuid.UUID(mail.message_id[1:].split("@")[0])
    assert welcome.message_id != reset.message_id
    assert len(mailbox.to(address)) == 2
