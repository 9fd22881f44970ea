"""Local accounts (when no OpenID provider is configured): argon2-hashed passwords in the store."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.auth import ROLES, Actor
from app.store import control
from app.store.db import Store, utcnow

_hasher = PasswordHasher()
MIN_PASSWORD = 10


class AccountError(ValueError):
    pass


def add_user(store: Store, *, name: str, role: str, password: str) -> None:
    """Create or update a local account (the CLI's `warroom user add`)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise AccountError("a user name is 1 to 100 characters")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; expected one of: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    with store.write() as w:
        control.upsert_user(w, name=name, role=role, password_hash=_hasher.hash(password), at=utcnow())


def verify(store: Store, *, name: str, password: str) -> Actor | None:
    """The user's Actor if the password matches, else None (same answer for unknown users)."""
    user = control.get_user(store.cursor(), (name or "").strip())
    if user is None:
        _hasher.hash(password or "x")  # spend the same time either way
        return None
    try:
        _hasher.verify(user["password_hash"], password or "")
    except (VerificationError, InvalidHashError):
        return None
    return Actor(user["name"], user["role"])


def has_accounts(store: Store) -> bool:
    return control.count_users(store.cursor()) > 0
