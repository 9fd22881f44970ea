"""Who may do what. Every domain function that changes something takes an Actor
and checks its role here, so hiding a button is never the only guard."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "operator", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}


class PermissionDenied(PermissionError):
    pass


@dataclass(frozen=True)
class Actor:
    name: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in _RANK:
            raise ValueError(f"unknown role {self.role!r}; expected one of: {', '.join(ROLES)}")

    def can(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]


def require(actor: Actor, role: str, action: str) -> None:
    """Raise PermissionDenied unless `actor` holds `role` (or a higher one)."""
    if not actor.can(role):
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not {action}: it needs the {role} role")


def roles_from_mapping(text: str) -> dict[str, str]:
    """Parse the WARROOM_ROLES setting: 'ana@example.com=admin,bo@example.com=operator'."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        email, _, role = part.partition("=")
        role = role.strip() or "viewer"
        if role not in _RANK:
            raise ValueError(f"WARROOM_ROLES: unknown role {role!r} for {email.strip()!r}")
        out[email.strip().lower()] = role
    return out


SYSTEM = Actor("warroom-worker", "admin")  # scheduled ramps and alert actions act as this
