"""Attachment files: stored once by content, never over the size limit, opened only by a valid id."""

from __future__ import annotations

from pathlib import Path

from bot.channels.email.files import AttachmentFiles
from bot.channels.email.parse import EmailFile

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 20


def files(tmp_path: Path, max_bytes: int = 1000) -> AttachmentFiles:
    return AttachmentFiles(
        tmp_path / "attachments", url_prefix="/webhooks/email/attachments", max_bytes=max_bytes
    )


async def test_the_same_file_mailed_twice_is_stored_once(tmp_path: Path) -> None:
    store = files(tmp_path)
    first = await store.save(EmailFile(name="nails.png", mime_type="image/png", kind="image", content=PNG))
    again = await store.save(EmailFile(name="copy.png", mime_type="image/png", kind="image", content=PNG))
    assert first.url == again.url and first.url is not None
    digest = first.url.rsplit("/", 1)[1]
    stored = sorted(p.name for p in (tmp_path / "attachments").rglob("*") if p.is_file())
    assert stored == sorted([digest, f"{digest}.json"])
    opened = await store.open(digest)
    assert opened is not None and opened.path.read_bytes() == PNG
    assert (opened.name, opened.mime_type, opened.inline) == ("nails.png", "image/png", True)


async def test_a_file_over_the_limit_keeps_its_metadata_but_not_its_bytes(tmp_path: Path) -> None:
    store = files(tmp_path, max_bytes=10)
    saved = await store.save(
        EmailFile(name="big.pdf", mime_type="application/pdf", kind="document", content=PNG)
    )
    assert saved.url is None
    assert (saved.kind, saved.mime_type, saved.name) == (
        "document",
        "application/pdf",
        "big.pdf (not stored: over 10 bytes)",
    )
    assert not (tmp_path / "attachments").exists()


async def test_names_cannot_escape_and_ids_must_be_hashes(tmp_path: Path) -> None:
    store = files(tmp_path)
    saved = await store.save(
        EmailFile(name="../../etc/passwd\n", mime_type="text/html", kind="document", content=b"x")
    )
    assert saved.name == ".._.._etc_passwd_"
    digest = (saved.url or "").rsplit("/", 1)[1]
    opened = await store.open(digest)
    assert opened is not None and not opened.inline  # HTML is never shown inline
    for bad in ("../x", "0" * 63, "Z" * 64, digest.upper()):
        assert await store.open(bad) is None
