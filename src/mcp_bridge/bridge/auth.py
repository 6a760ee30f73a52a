"""Who is calling: bearer JWTs (JWKS or, outside production, a dev secret) or static API keys.

A bearer value with two dots is a JWT; anything else is looked up as an API key. Every failure is
an :class:`AuthDenied` whose ``reason`` is safe to record (never token material).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import jwt

from mcp_bridge.config import ConfigError

from .settings import BridgeSettings

logger = logging.getLogger(__name__)

_ASYMMETRIC = ("RS256", "ES256")


class AuthDenied(Exception):
    """The request is not authenticated; ``reason`` is short and free of secrets."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """The authenticated caller, as recorded in every event."""

    subject: str
    auth_method: str
    roles: tuple[str, ...] = ()
    token_id: str | None = None
    issuer: str | None = None

    def as_payload(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "roles": list(self.roles),
            "tokenId": self.token_id,
            "authMethod": self.auth_method,
            "issuer": self.issuer,
        }


ANONYMOUS = Identity(subject="anonymous", auth_method="none")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    sha256: str
    subject: str
    roles: tuple[str, ...] = ()
    expires_at: datetime | None = None


def hash_api_key(key: str) -> str:
    """The hex SHA-256 stored in the API keys file for ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


def load_api_keys(path: Path) -> list[ApiKey]:
    """Read the API keys file (format in docs/mcp-bridge/bridge.md)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
        return [
            ApiKey(
                key_id=str(e["id"]),
                sha256=str(e["sha256"]).lower(),
                subject=str(e.get("subject", e["id"])),
                roles=tuple(str(r) for r in e.get("roles", [])),
                expires_at=_parse_time(e.get("expiresAt")),
            )
            for e in entries
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError([f"AUTH_API_KEYS_FILE={path} is invalid: {exc!s}"]) from None


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Authenticator:
    """Validates the ``Authorization`` header against whatever the settings configure."""

    settings: BridgeSettings
    api_keys: list[ApiKey] = field(default_factory=list)
    _jwks: jwt.PyJWKClient | None = None

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> Authenticator:
        keys = load_api_keys(settings.auth_api_keys_file) if settings.auth_api_keys_file else []
        jwks = (
            jwt.PyJWKClient(
                settings.auth_jwks_url,
                cache_jwk_set=True,
                lifespan=settings.auth_jwks_cache_seconds,
                timeout=10,
            )
            if settings.auth_jwks_url
            else None
        )
        return cls(settings=settings, api_keys=keys, _jwks=jwks)

    @property
    def enabled(self) -> bool:
        return self.settings.auth_configured

    async def authenticate(self, authorization: str | None) -> Identity:
        if not self.enabled:
            return ANONYMOUS
        scheme, _, credential = (authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthDenied("missing bearer token")
        if credential.count(".") == 2:
            return await self._jwt(credential)
        return self._api_key(credential)

    def _api_key(self, credential: str) -> Identity:
        digest = hash_api_key(credential)
        for key in self.api_keys:
            if hmac.compare_digest(digest, key.sha256):
                if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
                    raise AuthDenied(f"API key {key.key_id} expired")
                return Identity(key.subject, "api_key", key.roles, token_id=key.key_id)
        raise AuthDenied("unknown API key")

    async def _jwt(self, token: str) -> Identity:
        try:
            alg = str(jwt.get_unverified_header(token).get("alg"))
            key = await self._verification_key(token, alg)
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.auth_audience,
                issuer=self.settings.auth_issuer_url,
                options={"require": ["exp", "sub"]},
                leeway=self.settings.auth_clock_skew_seconds,
            )
        except jwt.ExpiredSignatureError:
            raise AuthDenied("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthDenied("token not yet valid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthDenied(f"token lacks the required claim '{exc.claim}'") from None
        except jwt.InvalidAudienceError:
            raise AuthDenied("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise AuthDenied("wrong issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthDenied("bad signature") from None
        except jwt.PyJWKClientError as exc:
            logger.warning("JWKS lookup failed: %s", exc)
            raise AuthDenied("signing key not found") from None
        except jwt.InvalidTokenError as exc:
            raise AuthDenied(f"invalid token: {type(exc).__name__}") from None
        method = "jwt_dev" if alg == "HS256" else "jwt"
        return Identity(
            subject=str(claims["sub"]),
            auth_method=method,
            roles=self._roles(claims),
            token_id=str(claims["jti"]) if "jti" in claims else None,
            issuer=str(claims["iss"]) if "iss" in claims else None,
        )

    async def _verification_key(self, token: str, alg: str) -> Any:
        if alg == "HS256" and self.settings.auth_dev_secret is not None:
            return self.settings.auth_dev_secret.get_secret_value().encode()
        if alg in _ASYMMETRIC and self._jwks is not None:
            jwks = self._jwks
            signing_key = await anyio.to_thread.run_sync(jwks.get_signing_key_from_jwt, token)
            return signing_key.key
        raise AuthDenied(f"token algorithm {alg} is not accepted")

    def _roles(self, claims: dict[str, Any]) -> tuple[str, ...]:
        value: Any = claims
        for part in self.settings.auth_roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return tuple(value.split())
        if isinstance(value, list):
            return tuple(str(v) for v in value)
        return ()


__all__ = [
    "ANONYMOUS",
    "ApiKey",
    "AuthDenied",
    "Authenticator",
    "Identity",
    "hash_api_key",
    "load_api_keys",
]
