"""OpenID Connect sign-in (Authlib): the provider's client, and the vitalsign user a login maps to.

The flow (web/sso_routes.py): /sso/login sends the browser to the provider with a state, a
nonce and a PKCE challenge (kept for the round trip in a signed cookie scoped to /sso); the
provider sends it back to /sso/callback with a code, which Authlib exchanges for tokens and
whose ID token it verifies (signature from the provider's JWKS, issuer, audience, nonce).
`provision_user` then turns the claims into a vitalsign user: the e-mail is the user name,
its domain must be allowed, a disabled user is refused, and a new user is created with the
role their groups map to (or the default role), audited.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from typing import Any, cast

import httpx
from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from vitalsign.errors import UserError
from vitalsign.store.overrides import audit
from vitalsign.store.sso_config import SsoConfig
from vitalsign.web.users import WebUser, add_user, atomic, get_user

SSO_COOKIE = "vitalsign_sso"  # set beside the session: signing out also ends the provider's
STATE_COOKIE = "vitalsign_sso_state"  # Authlib's state, nonce and PKCE verifier, /sso only
STATE_SECONDS = 600  # a sign-in at the provider must finish within ten minutes
ACTOR = "sso"  # the audit trail's actor for users created or changed by a sign-in


class SsoRefused(Exception):
    """A sign-in the provider or vitalsign refused: shown as a page saying why and what to do."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: their e-mail (the vitalsign user name) and groups."""

    email: str
    groups: tuple[str, ...]
    subject: str


class SingleSignOn:
    """The configured OpenID provider, reached through Authlib's Starlette client."""

    def __init__(self, config: SsoConfig) -> None:
        with warnings.catch_warnings():  # imported here: only a server with SSO pays for it
            import authlib.deprecate  # noqa: F401  (it turns its warnings on: import it first)

            # Authlib asks for httpx2 and works with httpx, which vitalsign already uses
            warnings.filterwarnings("ignore", message="The httpx module is deprecated")
            from authlib.integrations.starlette_client import OAuth

        self.config = config
        self._oauth = OAuth()
        self.client: Any = self._oauth.register(
            "vitalsign",
            client_id=config.client_id,
            client_secret=config.client_secret(),
            server_metadata_url=config.discovery_url,
            client_kwargs={"scope": " ".join(config.scopes), "code_challenge_method": "S256"},
        )
        self._cookies = URLSafeTimedSerializer(secrets.token_urlsafe(32), salt="vitalsign-sso")

    async def metadata(self) -> dict[str, Any]:
        """Return the provider's discovery document (fetched once), checking its issuer."""
        try:
            found = cast(dict[str, Any], await self.client.load_server_metadata())
        except (httpx.HTTPError, ValueError) as exc:
            raise SsoRefused(
                502,
                "sso_unreachable",
                f"{self.config.provider} could not be reached at {self.config.discovery_url} "
                f"({exc}); check web.sso.issuer in vitalsign.yml, or try again later",
            ) from exc
        issuer = str(found.get("issuer", "")).rstrip("/")
        if issuer != self.config.issuer.rstrip("/"):
            raise SsoRefused(
                502,
                "sso_issuer",
                f"{self.config.provider} says its issuer is {issuer!r}, not "
                f"{self.config.issuer!r}; set web.sso.issuer in vitalsign.yml to its exact value",
            )
        return found

    def load_state(self, request: Request) -> None:
        """Give Authlib the round trip's state as `request.session` (empty if none or forged)."""
        data: dict[str, Any] = {}
        raw = request.cookies.get(STATE_COOKIE)
        if raw:
            try:
                data = dict(self._cookies.loads(raw, max_age=STATE_SECONDS))
            except BadSignature:
                data = {}
        request.scope["session"] = data

    def save_state(self, request: Request, response: Response, secure: bool) -> None:
        """Keep what Authlib stored in `request.session` for the provider's callback."""
        data = request.scope.get("session") or {}
        if not data:
            response.delete_cookie(STATE_COOKIE, path="/sso")
            return
        response.set_cookie(
            STATE_COOKIE,
            self._cookies.dumps(data),
            max_age=STATE_SECONDS,
            httponly=True,
            samesite="lax",  # the provider's redirect back is a top-level GET: the cookie comes
            secure=secure,
            path="/sso",
        )

    async def authorize_redirect(self, request: Request, redirect_uri: str) -> Response:
        """Return the redirect to the provider's sign-in page (state kept in the session)."""
        from authlib.integrations.base_client import OAuthError

        await self.metadata()
        try:
            response: Response = await self.client.authorize_redirect(request, redirect_uri)
        except (httpx.HTTPError, OAuthError) as exc:
            raise SsoRefused(502, "sso_unreachable", f"{self.config.provider}: {exc}") from exc
        return response

    async def claims(self, request: Request) -> dict[str, Any]:
        """Exchange the callback's code; return the verified ID token's claims (+ userinfo)."""
        from authlib.integrations.base_client import OAuthError
        from joserfc.errors import JoseError

        await self.metadata()
        try:
            token = await self.client.authorize_access_token(request)
        except OAuthError as exc:
            raise SsoRefused(400, "sso_refused", self._oauth_message(exc)) from exc
        except (JoseError, ValueError) as exc:
            raise SsoRefused(
                502,
                "sso_token",
                f"the ID token from {self.config.provider} did not verify ({exc}); "
                "check web.sso.issuer and client_id",
            ) from exc
        except httpx.HTTPError as exc:
            raise SsoRefused(
                502, "sso_unreachable", f"{self.config.provider} did not answer: {exc}"
            ) from exc
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise SsoRefused(502, "sso_token", f"{self.config.provider} sent no ID token")
        wanted = (self.config.email_claim, self.config.groups_claim)
        metadata = await self.metadata()
        if any(c not in claims for c in wanted) and metadata.get("userinfo_endpoint"):
            try:
                extra = dict(await self.client.userinfo(token=token))
            except httpx.HTTPError as exc:
                raise SsoRefused(
                    502, "sso_unreachable", f"{self.config.provider}'s userinfo failed: {exc}"
                ) from exc
            if extra.get("sub") == claims.get("sub"):  # OIDC Core 5.3.2: else ignore it
                claims = {**extra, **claims}
        return claims

    def _oauth_message(self, exc: Any) -> str:
        if exc.error == "mismatching_state":
            return (
                "this sign-in did not start here, or took longer than ten minutes; "
                "go back to the sign-in page and start again"
            )
        said = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        return f"{self.config.provider} did not sign you in ({said}); start again"

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """Return the provider's end-session URL (RP-initiated logout), or None if it has none."""
        metadata = await self.metadata()
        if not metadata.get("end_session_endpoint"):
            return None
        result = await self.client.create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri, client_id=self.config.client_id
        )
        return str(result["url"])


def identity_from_claims(config: SsoConfig, claims: dict[str, Any]) -> Identity:
    """Return the e-mail and groups the claims carry, or refuse (no e-mail, unverified)."""
    email = claims.get(config.email_claim)
    if not isinstance(email, str) or "@" not in email.strip():
        raise SsoRefused(
            403,
            "sso_no_email",
            f"{config.provider} sent no e-mail address in the {config.email_claim!r} claim; "
            "an admin can name the claim that carries it in web.sso.email_claim (and add "
            "its scope to web.sso.scopes)",
        )
    if claims.get("email_verified") is False:
        raise SsoRefused(
            403,
            "sso_unverified",
            f"{config.provider} has not verified {email}; verify it there, then sign in again",
        )
    groups = claims.get(config.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    return Identity(
        email=email.strip().lower(),
        groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
        subject=str(claims.get("sub", "")),
    )


def _exists(connection: Any, name: str) -> bool:
    return bool(connection.execute("SELECT 1 FROM web_users WHERE name = ?", [name]).fetchone())


def _refuse(connection: Any, identity: Identity, code: str, message: str) -> SsoRefused:
    audit(connection, ACTOR, "login.sso_refused", identity.email, {"reason": code})
    return SsoRefused(403, code, message)


def provision_user(connection: Any, config: SsoConfig, identity: Identity) -> WebUser:
    """Return the vitalsign user of a signed-in identity, created on first sign-in (audited).

    The user name is the e-mail. A new user gets the highest role their groups map to in
    `roles`, else `default_role`; a csm's book is their e-mail (the value of accounts.owner).
    A known user whose groups map to another role gets that role (audited); when no group
    maps, the role an admin gave is kept. Refused: a domain not allowed, a disabled user.
    """
    email = identity.email
    if not config.domain_allowed(email):
        allowed = ", ".join(config.allowed_domains)
        raise _refuse(
            connection,
            identity,
            "sso_domain",
            f"{email} may not sign in here: only addresses at {allowed} may. Sign in with "
            f"your work account, or ask an admin to add your domain to "
            f"web.sso.allowed_domains in vitalsign.yml",
        )
    mapped = config.role_for(list(identity.groups))
    if not _exists(connection, email):
        role = mapped or config.default_role
        try:
            return add_user(
                connection,
                email,
                role,
                secrets.token_urlsafe(32),  # nobody knows it: this user signs in with SSO
                owner=email if role == "csm" else None,
                actor=ACTOR,
            )
        except UserError:
            if not _exists(connection, email):  # not a race with another first sign-in
                raise
    user = get_user(connection, email)
    if user.disabled_at is not None:
        raise _refuse(
            connection,
            identity,
            "sso_disabled",
            f"{email} is disabled in vitalsign; ask an admin to enable it",
        )
    if mapped is not None and mapped != user.role:
        owner = user.owner or (email if mapped == "csm" else None)
        with atomic(connection):
            connection.execute(
                "UPDATE web_users SET role = ?, owner = ? WHERE name = ?", [mapped, owner, email]
            )
            detail = {"from": user.role, "to": mapped, "groups": list(identity.groups)}
            audit(connection, ACTOR, "user.role", email, detail)
        user = get_user(connection, email)
    return user


def login_options(request: Request) -> dict[str, Any]:
    """Return what the sign-in page shows: the provider's button, and the password form."""
    sso: SingleSignOn | None = getattr(request.app.state, "sso", None)
    if sso is None:
        return {"sso_provider": None, "local_passwords": True}
    return {"sso_provider": sso.config.provider, "local_passwords": sso.config.local_passwords}


def passwords_refused(request: Request) -> str | None:
    """Return why a password sign-in is refused (local passwords turned off), or None."""
    sso: SingleSignOn | None = getattr(request.app.state, "sso", None)
    if sso is None or sso.config.local_passwords:
        return None
    return (
        f"Signing in with a password is turned off here: use Sign in with "
        f"{sso.config.provider}. (An admin turns it on with web.sso.local_passwords.)"
    )
