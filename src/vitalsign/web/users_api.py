"""Managing web users and API tokens through the REST API (admins only), while serving.

`vitalsign users` cannot write while `vitalsign serve` holds the workspace (DuckDB lets one
process write), so these routes are how a token is revoked or a user disabled or removed
without stopping the server. Every change goes through vitalsign.web.users in the server's
process, which drops cached sign-ins: the change applies from the next request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from vitalsign.web.access import HttpProblem, Principal
from vitalsign.web.api_schemas import TokenRevoked, UserOut, UserRemoved, UsersOut
from vitalsign.web.auth import CurrentPrincipal, Database, check_api_csrf
from vitalsign.web.tokens import list_tokens, revoke_token
from vitalsign.web.users import WebUser, list_users, remove_user, set_disabled


def _admin(request: Request, principal: Principal, changing: bool = True) -> None:
    if principal.role != "admin":
        raise HttpProblem(403, "forbidden", "only an admin can manage users and tokens")
    if changing:
        check_api_csrf(request, principal)


def _not_yourself(principal: Principal, name: str, what: str) -> None:
    if name == principal.name:
        raise HttpProblem(
            400, "invalid", f"you cannot {what} yourself; sign in as another admin to do it"
        )


def _user_dict(user: WebUser) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "owner": user.owner,
        "created_at": user.created_at.isoformat(),
        "disabled_at": _iso(user.disabled_at),
        "last_login_at": _iso(user.last_login_at),
    }


def _iso(moment: dt.date | None) -> str | None:
    return moment.isoformat() if moment else None


def users(request: Request, db: Database, principal: CurrentPrincipal) -> dict[str, Any]:
    """Every web user, and their API tokens without secrets (admin)."""
    _admin(request, principal, changing=False)
    tokens = [
        {
            "token_id": t.token_id,
            "user_name": t.user_name,
            "label": t.label,
            "created_at": t.created_at.isoformat(),
            "revoked_at": _iso(t.revoked_at),
            "scope": t.scope,
            "expires_at": _iso(t.expires_at),
            "valid_through": _iso(t.valid_through),
            "last_used_at": _iso(t.last_used_at),
        }
        for t in list_tokens(db)
    ]
    return {"items": [_user_dict(u) for u in list_users(db)], "tokens": tokens}


def user_disable(
    request: Request, db: Database, principal: CurrentPrincipal, name: str
) -> dict[str, Any]:
    """Disable a user from the next request on: sessions end, tokens refused (admin)."""
    _admin(request, principal)
    _not_yourself(principal, name, "disable")
    return _user_dict(set_disabled(db, name, True, principal.name))


def user_enable(
    request: Request, db: Database, principal: CurrentPrincipal, name: str
) -> dict[str, Any]:
    """Enable a disabled user again; their tokens work again (admin)."""
    _admin(request, principal)
    return _user_dict(set_disabled(db, name, False, principal.name))


def user_remove(
    request: Request, db: Database, principal: CurrentPrincipal, name: str
) -> dict[str, Any]:
    """Remove a user, revoke their tokens and end their sessions (admin)."""
    _admin(request, principal)
    _not_yourself(principal, name, "remove")
    remove_user(db, name, principal.name)
    return {"name": name, "removed": True}


def token_revoke(
    request: Request, db: Database, principal: CurrentPrincipal, token_id: str
) -> dict[str, Any]:
    """Revoke an API token from the next request on (admin)."""
    _admin(request, principal)
    token = revoke_token(db, token_id, principal.name)
    return {"token_id": token.token_id, "user_name": token.user_name, "revoked": True}


ROUTES: tuple[tuple[str, str, Any, type[BaseModel]], ...] = (
    ("GET", "/users", users, UsersOut),
    ("POST", "/users/{name}/disable", user_disable, UserOut),
    ("POST", "/users/{name}/enable", user_enable, UserOut),
    ("DELETE", "/users/{name}", user_remove, UserRemoved),
    ("POST", "/tokens/{token_id}/revoke", token_revoke, TokenRevoked),
)


def add_routes(router: APIRouter, responses: dict[int | str, dict[str, Any]]) -> None:
    """Add the user and token routes to the REST API's router."""
    for method, path, endpoint, model in ROUTES:
        router.add_api_route(
            path, endpoint, methods=[method], responses=responses, response_model=model
        )
