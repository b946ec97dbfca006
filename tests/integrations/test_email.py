"""The notes mail and the SMTP client, against aiosmtpd servers on loopback."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from integrations.email.notes import MeetingNotes, NotedItem, compose
from integrations.email.smtp import (
    EmailAddressError,
    Mailer,
    PermanentEmailError,
    Security,
    SmtpServer,
    TransientEmailError,
)
from tests.mail import (
    Certificate,
    LoopbackServer,
    free_port,
    self_signed_certificate,
    smtp_server,
)

ANN = "ann@example.test"
NOTES = MeetingNotes(
    title="Release <planning>",
    held_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    summary="The team moved the release & agreed on the launch.",
    decisions=(NotedItem("Ship on Friday", at=75.0),),
    action_items=(
        NotedItem("Send the survey results", at=3725.5, owner="Ann Lee", due="2026-12-01"),
    ),
    open_questions=(NotedItem("Who <b>owns</b> the docs?", at=None),),
)


def message(recipients: list[str]) -> EmailMessage:
    return compose(
        NOTES, sender="minutes@example.test", recipients=recipients, message_id="<n.1@example.test>"
    )


def parts(received: EmailMessage) -> tuple[str, str]:
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def mailer_for(server: LoopbackServer, *, trusting: Certificate | None = None) -> Mailer:
    return Mailer(
        SmtpServer.parse(server.url),
        sender="minutes@example.test",
        ca_file=trusting.cert if trusting else None,
    )


def send_to_ann(mailer: Mailer) -> dict[str, str]:
    return mailer.send(message([ANN]), [ANN])


def auth_server(certificate: Certificate, userinfo: str) -> AbstractContextManager[LoopbackServer]:
    """A server asking for AUTH after STARTTLS, user "ann@corp" and password "p:ss/w"."""
    return smtp_server(
        scheme="smtp+starttls",
        certificate=certificate,
        user="ann@corp",
        password="p:ss/w",
        userinfo=userinfo,
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def test_a_title_with_line_breaks_makes_a_one_line_subject() -> None:
    notes = MeetingNotes(
        title="Weekly\r\nBcc: everyone@example.test", held_at=NOTES.held_at, summary=""
    )
    composed = compose(
        notes, sender="m@example.test", recipients=["a@example.test"], message_id="<x@y>"
    )
    assert composed["Subject"] == "Notes: Weekly Bcc: everyone@example.test (2026-11-26)"
    assert composed["Bcc"] is None


class TestSmtpServer:
    def test_user_and_password_are_percent_decoded(self) -> None:
        server = SmtpServer.parse("smtp+starttls://ann%40corp:p%3Ass%2Fw@127.0.0.1:2525")
        assert server == SmtpServer(Security.STARTTLS, "127.0.0.1", 2525, "ann@corp", "p:ss/w")

    def test_default_ports(self) -> None:
        assert SmtpServer.parse("smtps://127.0.0.1").port == 465
        assert SmtpServer.parse("smtp+starttls://127.0.0.1").port == 587
        assert SmtpServer.parse("smtp://127.0.0.1").port == 25

    def test_an_unknown_scheme_is_refused_without_repeating_the_url(self) -> None:
        with pytest.raises(EmailAddressError) as raised:
            SmtpServer.parse("http://ann:secret@127.0.0.1")
        assert "secret" not in str(raised.value)


class TestMailer:
    def test_plain_smtp_delivers_both_parts_to_every_recipient(self) -> None:
        with smtp_server() as server:
            mailer = mailer_for(server)
            refused = mailer.send(
                message(["ann@example.test"]), ["ann@example.test", "bo@example.test"]
            )
        assert refused == {}
        [received] = server.received
        assert received.recipients == ["ann@example.test", "bo@example.test"]
        assert received.message["Message-ID"] == "<n.1@example.test>"
        assert received.message["Subject"] == "Notes: Release <planning> (2026-11-26)"
        text, html = parts(received.message)
        assert "[00:01:15] Ship on Friday" in text
        assert "[01:02:05] Send the survey results (owner: Ann Lee, due 2026-12-01)" in text
        assert "- Who <b>owns</b> the docs?" in text  # no time: it carries no evidence
        assert "<h1>Release &lt;planning&gt;</h1>" in html
        assert "moved the release &amp; agreed" in html
        assert "Who &lt;b&gt;owns&lt;/b&gt; the docs?" in html
        assert "<code>[01:02:05]</code> Send the survey results" in html

    def test_starttls_with_the_ca_file_trusted(self, certificate: Certificate) -> None:
        with smtp_server(scheme="smtp+starttls", certificate=certificate) as server:
            send_to_ann(mailer_for(server, trusting=certificate))
        assert [r.recipients for r in server.received] == [[ANN]]

    def test_starttls_refuses_a_certificate_no_ca_vouches_for(
        self, certificate: Certificate
    ) -> None:
        with (
            smtp_server(scheme="smtp+starttls", certificate=certificate) as server,
            pytest.raises(PermanentEmailError, match="certificate not trusted"),
        ):
            send_to_ann(mailer_for(server))
        assert server.received == []

    def test_smtps_speaks_tls_from_the_first_byte(self, certificate: Certificate) -> None:
        with smtp_server(scheme="smtps", certificate=certificate) as server:
            send_to_ann(mailer_for(server, trusting=certificate))
        assert len(server.received) == 1

    def test_auth_with_the_urls_user_and_password(self, certificate: Certificate) -> None:
        with auth_server(certificate, "ann%40corp:p%3Ass%2Fw") as server:
            send_to_ann(mailer_for(server, trusting=certificate))
        assert len(server.received) == 1

    def test_a_wrong_password_is_permanent_and_not_repeated(self, certificate: Certificate) -> None:
        with (
            auth_server(certificate, "ann%40corp:wrong-secret") as server,
            pytest.raises(PermanentEmailError) as raised,
        ):
            send_to_ann(mailer_for(server, trusting=certificate))
        assert str(raised.value).startswith("535")
        assert "wrong-secret" not in str(raised.value)

    def test_a_451_reply_is_transient(self) -> None:
        with smtp_server(replies=("451 4.3.0 try again later",)) as server:
            mailer = mailer_for(server)
            with pytest.raises(TransientEmailError, match=r"451 4\.3\.0 try again later"):
                mailer.send(message(["ann@example.test"]), ["ann@example.test"])
        assert server.received == []

    def test_a_550_reply_is_permanent(self) -> None:
        with smtp_server(replies=("550 5.1.1 mailbox unavailable",)) as server:
            mailer = mailer_for(server)
            with pytest.raises(PermanentEmailError, match=r"550 5\.1\.1 mailbox unavailable"):
                mailer.send(message(["ann@example.test"]), ["ann@example.test"])

    def test_a_refused_connection_is_transient(self) -> None:
        mailer = Mailer(
            SmtpServer.parse(f"smtp://ann:secret@127.0.0.1:{free_port()}"),
            sender="minutes@example.test",
        )
        with pytest.raises(TransientEmailError) as raised:
            mailer.send(message(["ann@example.test"]), ["ann@example.test"])
        assert "ConnectionRefusedError" in str(raised.value)
        assert "secret" not in str(raised.value)
