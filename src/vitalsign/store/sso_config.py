"""vitalsign.yml `web.sso:`: OpenID Connect single sign-on (docs/web.md, "Single sign-on").

The client secret never sits in the file: `client_secret_env` names the environment variable
that holds it, read when the server starts.

>>> SsoConfig(provider="Okta", issuer="https://acme.okta.com", client_id="vitalsign",
...           client_secret_env="VITALSIGN_SSO_SECRET", allowed_domains=["acme.com"],
...           roles={"cs-leads": "admin"}).role_for(["cs-leads", "staff"])
'admin'
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vitalsign.errors import WorkspaceError

Role = Literal["admin", "manager", "csm", "viewer"]
ROLE_RANK: dict[str, int] = {"admin": 0, "manager": 1, "csm": 2, "viewer": 3}  # 0 wins


class SsoConfig(BaseModel):
    """The OpenID provider, how its claims map to a vitalsign user, and who may sign in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(min_length=1, max_length=40)  # the button: "Sign in with <provider>"
    issuer: str = Field(pattern=r"^https?://[^\s?#]+$")
    client_id: str = Field(min_length=1)
    client_secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    email_claim: str = Field(default="email", min_length=1)
    groups_claim: str = Field(default="groups", min_length=1)
    allowed_domains: list[str] = Field(min_length=1)
    roles: dict[str, Role] = Field(default_factory=dict)  # group -> role
    default_role: Role = "viewer"
    local_passwords: bool = True  # false: the password form is gone and POST /login refused

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "client_secret" in data:
            raise ValueError(
                "client_secret: never put the secret in vitalsign.yml; set it in an "
                "environment variable and name that variable in client_secret_env"
            )
        return data

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, scopes: list[str]) -> list[str]:
        if "openid" not in scopes:
            raise ValueError("scopes must include openid (e.g. [openid, email, profile, groups])")
        return scopes

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        cleaned = [d.strip().lower().lstrip("@") for d in domains]
        for domain in cleaned:
            if not domain or "@" in domain or "." not in domain or " " in domain:
                raise ValueError(f"{domain!r} is not an e-mail domain (e.g. acme.com)")
        return cleaned

    @property
    def discovery_url(self) -> str:
        """The provider's OpenID Connect discovery document."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def origin(self) -> str:
        """The issuer's scheme, host and port (the pages' forms may lead there: CSP)."""
        scheme, _, rest = self.issuer.partition("://")
        return f"{scheme}://{rest.split('/')[0]}"

    def client_secret(self) -> str:
        """Return the client secret from its environment variable, or say how to set it."""
        secret = os.environ.get(self.client_secret_env, "")
        if not secret:
            raise WorkspaceError(
                f"vitalsign.yml web.sso.client_secret_env: the environment variable "
                f"{self.client_secret_env} is not set; export it with the client secret "
                f"that {self.provider} gave for client {self.client_id!r}, then start again"
            )
        return secret

    def domain_allowed(self, email: str) -> bool:
        """Whether `email`'s domain is one of allowed_domains (exactly, case-insensitively)."""
        return email.rpartition("@")[2].lower() in self.allowed_domains

    def role_for(self, groups: list[str]) -> Role | None:
        """Return the highest role any of `groups` maps to, or None when none maps."""
        mapped: list[Role] = [self.roles[g] for g in groups if g in self.roles]
        return sorted(mapped, key=ROLE_RANK.__getitem__)[0] if mapped else None
