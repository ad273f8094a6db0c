"""Password hashing with argon2id (argon2-cffi), re-hashed when the parameters change.

Hashing is deliberately slow (tens of milliseconds), so callers run it in a thread; the
async helpers here do that for them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256


class WeakPassword(ValueError):
    """A new password that is too short or too long; the message says which."""


def check_strength(password: str) -> None:
    """Refuse passwords shorter than :data:`MIN_LENGTH` (or absurdly long)."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")


@dataclass(frozen=True, slots=True)
class Verified:
    """The outcome of a check: ``ok``, and the new hash to store when the old one is outdated."""

    ok: bool
    rehashed: str | None = None


class Passwords:
    """Hash and verify passwords; ``hasher`` defaults to argon2-cffi's recommended argon2id."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        # verified against when a username is unknown, so both cases take the same time
        self._dummy = self.hasher.hash("not a real password, only for timing")

    def hash_sync(self, password: str) -> str:
        """An argon2 hash (with its own salt and parameters) of ``password``."""
        return self.hasher.hash(password)

    def verify_sync(self, stored: str | None, password: str) -> Verified:
        """Check ``password`` against ``stored`` (None: unknown user, still spends the time)."""
        try:
            self.hasher.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verified(ok=False)
        if stored is None:
            return Verified(ok=False)
        if self.hasher.check_needs_rehash(stored):
            return Verified(ok=True, rehashed=self.hasher.hash(password))
        return Verified(ok=True)

    async def hash(self, password: str) -> str:
        """:meth:`hash_sync` in a thread."""
        return await asyncio.to_thread(self.hash_sync, password)

    async def verify(self, stored: str | None, password: str) -> Verified:
        """:meth:`verify_sync` in a thread."""
        return await asyncio.to_thread(self.verify_sync, stored, password)
