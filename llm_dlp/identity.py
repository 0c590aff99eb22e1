"""Who is behind a proxy connection: users with hashed passwords and their groups.

The users file maps a proxy-auth user name to a bcrypt password hash and groups; policies map
users and groups to tenants. Passwords are hashed with ``llm-dlp hash-password``.

    users:
      alice:
        password: "$2b$12$..."
        groups: [engineering]
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import yaml


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()


class UsersFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _User:
    password_hash: bytes
    groups: tuple[str, ...]


class UsersFile:
    def __init__(self, users: dict[str, _User]) -> None:
        self._users = users
        # bcrypt is deliberately slow (~0.2 s); remember credentials already checked this run.
        self._verified: dict[bytes, Identity] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> "UsersFile":
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise UsersFileError(f"{path}: cannot be read: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
            raise UsersFileError(f"{path}: must have a 'users' mapping of user name to password and groups")
        users = {}
        for name, entry in data["users"].items():
            if not isinstance(entry, dict) or not isinstance(entry.get("password"), str):
                raise UsersFileError(f"{path}: users.{name}.password: a bcrypt hash is required")
            if not entry["password"].startswith(("$2a$", "$2b$", "$2y$")):
                raise UsersFileError(f"{path}: users.{name}.password: not a bcrypt hash (use llm-dlp hash-password)")
            groups = entry.get("groups", [])
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise UsersFileError(f"{path}: users.{name}.groups: must be a list of names")
            users[str(name)] = _User(entry["password"].encode(), tuple(groups))
        return cls(users)

    def knows(self, user: str) -> bool:
        return user in self._users

    def check(self, user: str, password: str) -> Identity | None:
        key = hashlib.sha256(f"{user}\x00{password}".encode()).digest()
        with self._lock:
            if key in self._verified:
                return self._verified[key]
        entry = self._users.get(user)
        if entry is None or not bcrypt.checkpw(password.encode(), entry.password_hash):
            return None
        identity = Identity(user, entry.groups)
        with self._lock:
            self._verified[key] = identity
        return identity


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
