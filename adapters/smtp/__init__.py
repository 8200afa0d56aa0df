"""Mail adapters of the EmailSender port: SMTP (aiosmtplib) and a log-only one."""
