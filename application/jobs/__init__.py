"""Durable jobs: the worker that runs what units of work recorded in the job queue."""

from application.jobs.policy import JobRunnerSettings, retry_delay
from application.jobs.runner import JobHandler, JobOutcome, JobRunner

__all__ = ["JobHandler", "JobOutcome", "JobRunner", "JobRunnerSettings", "retry_delay"]
