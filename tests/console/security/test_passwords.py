"""argon2id hashes: verified, wrong passwords refused, outdated parameters re-hashed."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from console.security.passwords import Passwords, WeakPassword, check_strength


async def test_a_hash_verifies_its_password_only() -> None:
    passwords = Passwords()
    stored = await passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert (await passwords.verify(stored, "correct horse battery")).ok
    assert not (await passwords.verify(stored, "correct horse batterz")).ok
    assert not (await passwords.verify(None, "correct horse battery")).ok  # unknown user
    assert not (await passwords.verify("not a hash", "correct horse battery")).ok


async def test_a_hash_made_with_weaker_parameters_is_upgraded_on_sign_in() -> None:
    old = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    stored = await old.hash("correct horse battery")
    current = Passwords()
    verified = await current.verify(stored, "correct horse battery")
    assert verified.ok and verified.rehashed is not None
    assert not current.hasher.check_needs_rehash(verified.rehashed)
    assert (await current.verify(verified.rehashed, "correct horse battery")).rehashed is None


def test_short_passwords_are_refused_with_the_rule() -> None:
    with pytest.raises(WeakPassword, match="at least 10 characters"):
        check_strength("short")
    check_strength("ten chars!")
