"""What every channel bounds on the way in: text length, per-sender rate, provider date.

One :class:`ChatGuard` is built by the app from its settings and given to every adapter
by :func:`bot.channels.registry.mount_channels` (``adapter.guard``):

* **text length** (``CONCIERGE_MAX_MESSAGE_CHARS``, default 4,000 characters): a longer
  text is cut to the limit and stored that way, marked ``metadata["truncated_from"]`` (the
  original length), and the client is told, politely and in their language when it is easy
  to tell (:func:`too_long_notice`), that only the beginning was read. Nothing is dropped
  silently. The widget refuses instead (its page never sends more; a socket that does gets
  an error frame saying why).
* **rates** on the chat channels (REST, widget): per sender
  (``CONCIERGE_CHAT_PER_SENDER_PER_MINUTE``) and per client address
  (``CONCIERGE_CHAT_PER_IP_PER_MINUTE``; :mod:`console.limits` counts REST requests and
  widget connections under the same key).
* **freshness** of provider-dated webhook messages (``CONCIERGE_WEBHOOK_MAX_AGE_HOURS``,
  default 24 h): :meth:`ChatGuard.stale` says whether a provider's timestamp is outside the
  window; each provider module decides how to refuse (docs/security.md, "Webhook freshness").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.models import InboundMessage
from bot.ratelimit import Rate, RateLimiter

if TYPE_CHECKING:
    from bot.settings import Settings

DEFAULT_MAX_CHARS = 4000
DEFAULT_MAX_AGE = timedelta(hours=24)
#: a provider's clock may run a little ahead of ours
CLOCK_SKEW = timedelta(minutes=5)
TRUNCATED = "truncated_from"

_NOTICES = {
    "en": "Your message was very long, so I read only its first {limit} characters. "
    "If something important came later, please send it in a shorter message.",
    "pl": "Twoja wiadomość była bardzo długa, więc przeczytałem tylko pierwsze {limit} znaków. "
    "Jeśli coś ważnego było dalej, wyślij to proszę w krótszej wiadomości.",
    "uk": "Ваше повідомлення дуже довге, тож я прочитав лише перші {limit} символів. "
    "Якщо щось важливе було далі, надішліть це, будь ласка, коротшим повідомленням.",
    "ru": "Ваше сообщение очень длинное, поэтому я прочитал только первые {limit} символов. "
    "Если что-то важное было дальше, пожалуйста, отправьте это более коротким сообщением.",
}
_REFUSALS = {
    "en": "Your message is too long: please keep it under {limit} characters.",
    "pl": "Twoja wiadomość jest za długa: zmieść się proszę w {limit} znakach.",
    "uk": "Ваше повідомлення задовге: будь ласка, не більше {limit} символів.",
    "ru": "Ваше сообщение слишком длинное: пожалуйста, не больше {limit} символов.",
}
_SLOW_DOWN = {
    "en": "You are sending messages very quickly. Please wait {seconds} s and try again.",
    "pl": "Wysyłasz wiadomości bardzo szybko. Poczekaj proszę {seconds} s i spróbuj ponownie.",
    "uk": "Ви надсилаєте повідомлення дуже швидко. Зачекайте, будь ласка, {seconds} с і спробуйте ще.",
    "ru": "Вы отправляете сообщения очень быстро. Подождите, пожалуйста, {seconds} с и попробуйте снова.",
}
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")
_POLISH = re.compile(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]")
_SAMPLE = 400  # characters looked at to guess the language: enough, and cheap whatever the length


def guess_language(text: str) -> str:
    """A cheap guess among the languages the notices are written in (en, pl, uk, ru)."""
    sample = text[:_SAMPLE]
    if _UKRAINIAN.search(sample):
        return "uk"
    if _CYRILLIC.search(sample):
        return "ru"
    if _POLISH.search(sample):
        return "pl"
    return "en"


def _number(value: int, language: str) -> str:
    # 4,000 in English; 4 000 (a narrow no-break space) in Polish, Ukrainian and Russian
    return f"{value:,}" if language == "en" else f"{value:,}".replace(",", "\u202f")


def too_long_notice(text: str, limit: int) -> str:
    """What a client whose text was cut is told (in the language of ``text`` when easy)."""
    language = guess_language(text)
    return _NOTICES[language].format(limit=_number(limit, language))


def too_long_refusal(text: str, limit: int) -> str:
    """What a client whose text was refused is told."""
    language = guess_language(text)
    return _REFUSALS[language].format(limit=_number(limit, language))


def slow_down(text: str, seconds: int) -> str:
    """What a client over its message rate is told."""
    return _SLOW_DOWN[guess_language(text)].format(seconds=seconds)


@dataclass(frozen=True)
class ChatGuard:
    """The inbound bounds every adapter applies (see the module docstring)."""

    max_chars: int = DEFAULT_MAX_CHARS
    max_age: timedelta = DEFAULT_MAX_AGE
    per_sender: Rate = field(default_factory=lambda: Rate(0))
    per_address: Rate = field(default_factory=lambda: Rate(0))
    limiter: RateLimiter | None = None

    @classmethod
    def from_settings(cls, settings: Settings, limiter: RateLimiter | None) -> ChatGuard:
        """The guard ``CONCIERGE_*`` settings describe, counting rates with ``limiter``."""
        return cls(
            max_chars=settings.max_message_chars,
            max_age=timedelta(hours=settings.webhook_max_age_hours),
            per_sender=Rate(settings.chat_per_sender_per_minute),
            per_address=Rate(settings.chat_per_ip_per_minute),
            limiter=limiter,
        )

    def bound(self, message: InboundMessage) -> tuple[InboundMessage, bool]:
        """``message`` with its text cut to :attr:`max_chars` (marked), and whether it was cut."""
        text = message.text
        if text is None or len(text) <= self.max_chars:
            return message, False
        metadata = {**message.metadata, TRUNCATED: str(len(text))}
        return message.model_copy(update={"text": text[: self.max_chars], "metadata": metadata}), True

    async def sender_wait(self, channel: str, sender_id: str) -> int | None:
        """Count one message from ``sender_id``; seconds to wait when over the budget, else None."""
        if self.limiter is None:
            return None
        return await self.limiter.hit(f"chat:sender:{channel}:{pseudonym(sender_id)}", self.per_sender)

    async def address_wait(self, address: str) -> int | None:
        """Count one chat hit from a client address; seconds to wait when over the budget, else None."""
        if self.limiter is None:
            return None
        return await self.limiter.hit(address_key(address), self.per_address)

    def stale(self, sent_at: datetime, now: datetime | None = None) -> bool:
        """True when a provider dated a message outside the window (too old, or from the future)."""
        now = now or datetime.now(UTC)
        if sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
        return sent_at < now - self.max_age or sent_at > now + CLOCK_SKEW


def pseudonym(value: str) -> str:
    """A stable stand-in for ``value`` in a rate-limit key. The keys live in Redis (shared,
    listed by operators, outside every eraser) for about a minute, and should not spell out
    an IP address or a sender id. An unkeyed hash: it keeps values out of sight, not secret
    (an IPv4 address can be recovered by trying them all), which fits a one-minute counter."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def address_key(address: str) -> str:
    """The rate-limit key of a client address on the chat channels (REST, widget): the
    address's pseudonym, never the IP address itself."""
    return f"chat:ip:{pseudonym(address)}"


def stale_log_line(channel: str, sent_at: datetime, now: datetime | None = None) -> str:
    """A log line for a refused stale message: the channel and the age, no personal data."""
    now = now or datetime.now(UTC)
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    hours = (now - sent_at).total_seconds() / 3600
    return f"{channel}: refused a webhook message dated {hours:.1f} h ago (outside the freshness window)"


#: no rate limits (no limiter), the default text length and freshness window
DEFAULT_GUARD = ChatGuard()
