"""A mail server on localhost for the alert tests: aiosmtpd keeping every message, and the Airflow SMTP connection
(as an ``AIRFLOW_CONN_*`` variable) that reaches it."""

from __future__ import annotations

import email
import json
import socket
from email import policy

from aiosmtpd.controller import Controller


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def subjects(self) -> list[str]:
        """The subjects received, in order."""
        return [str(m["Subject"]) for m in self.messages]


def body(message) -> str:
    """A received message's HTML (or plain) body."""
    return message.get_body(preferencelist=("html", "plain")).get_content()


def start_inbox() -> tuple[Controller, Inbox, str]:
    """Start a receiver on a free port; returns the controller (``stop()`` it), its inbox and the connection JSON."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    extra = {"disable_ssl": True, "disable_tls": True}
    return controller, inbox, json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": extra})
