"""Which scope each API route needs, and the check every request under `/api/v1` passes.

Each router declares its domain once, first among its dependencies:
`APIRouter(..., dependencies=[requires(Domain.DEFINITIONS), ...])`; `GET`/`HEAD` then need the
domain's `read` scope and every other method its `write` scope. A route whose domain differs from
its router's declares its own (`@router.get(..., dependencies=[requires(Domain.RESULTS)])`): the
innermost declaration wins (FastAPI lists a router's dependencies before its routes'), and the
outer guard steps aside. `create_app` refuses to build an app with a route under `/api/v1`
that declares none (`unscoped_routes`), and tests/api/auth/ checks every route of the table.

The check (`authorize`) runs once per request, before anything else the route does:
`IdempotentRoute` calls it before it looks at an `Idempotency-Key` (so a stored answer is never
replayed to a caller without the scope), and the guard dependency calls it for any other route.
The key comes from `Authorization: Bearer <key>` or `X-API-Key: <key>`; it is never logged or
echoed. A client address whose keys failed `JBTS_AUTH_FAILURE_LIMIT` times within `FAILURE_WINDOW_S`
seconds is answered 429 until the oldest of those failures leaves the window, except for keys
that authenticated lately (`FailureLimiter`). Requests without a key are 401s and not counted.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from api.auth import keys as key_service
from api.errors import PROBLEM_MEDIA_TYPE, Forbidden, InvalidKey, TooManyRequests, Unauthorized
from api.settings import AuthMode, Settings
from documents.keys import ApiKey, Scope

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
BEARER_SCHEME = "bearerAuth"
API_KEY_SCHEME = "apiKeyHeader"
REQUIRED_SCOPE_EXTENSION = "x-required-scope"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

FAILURE_WINDOW_S = 60.0
MAX_TRACKED_ADDRESSES = 10_000
"""The limiter forgets the addresses that failed least recently beyond this many."""
AUTH_OFF = "auth-off"


class Domain(StrEnum):
    """What a route works on; with the method, it gives the scope the route needs."""

    DEFINITIONS = "definitions"
    RESULTS = "results"
    CONFIG = "config"
    ADMIN = "admin"


_SCOPES: dict[Domain, tuple[Scope, Scope]] = {
    Domain.DEFINITIONS: (Scope.DEFINITIONS_READ, Scope.DEFINITIONS_WRITE),
    Domain.RESULTS: (Scope.RESULTS_READ, Scope.RESULTS_WRITE),
    Domain.CONFIG: (Scope.CONFIG_READ, Scope.CONFIG_WRITE),
    Domain.ADMIN: (Scope.ADMIN, Scope.ADMIN),
}


def scope_for(domain: Domain, method: str) -> Scope:
    read, write = _SCOPES[domain]
    return read if method.upper() in READ_METHODS else write


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key (its name and scopes), or nobody in particular with auth off."""

    name: str
    scopes: frozenset[Scope] | None
    """The key's scopes, with those they include; None when auth is off."""
    key: ApiKey | None = None

    @property
    def label(self) -> str:
        """How `created_by` names this caller: `key:<name>`, or `auth-off`."""
        return AUTH_OFF if self.key is None else f"key:{self.name}"

    def holds(self, scope: Scope) -> bool:
        return self.scopes is not None and scope in self.scopes


class Guard:
    """A route's declared domain, as a dependency (see the module docstring)."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def __repr__(self) -> str:
        return f"requires({self.domain})"

    async def __call__(self, request: Request) -> None:
        # The innermost declaration acts; an outer one only where the route declares none.
        route = request.scope.get("route")
        inner = declared_guard(route.dependencies) if isinstance(route, APIRoute) else None
        if inner is None or inner is self:
            await authorize(request, self.domain)


def requires(domain: Domain) -> DependsParam:
    """The declaration of a router's (or a route's) domain."""
    guard: DependsParam = Depends(_GUARDS[domain])
    return guard


_GUARDS = {domain: Guard(domain) for domain in Domain}


def declared_guard(dependencies: Sequence[DependsParam]) -> Guard | None:
    """The innermost domain among a route's dependencies, or None."""
    guards = [dep.dependency for dep in dependencies if isinstance(dep.dependency, Guard)]
    return guards[-1] if guards else None


@dataclass(frozen=True, slots=True)
class ServedRoute:
    """An API route as the app serves it: its full path and every dependency it runs (those of
    the routers that include it too)."""

    path: str
    path_format: str
    methods: frozenset[str]
    guard: Guard | None
    route: APIRoute

    def required_scope(self, method: str) -> Scope | None:
        return None if self.guard is None else scope_for(self.guard.domain, method)


def served_routes(routes: Iterable[BaseRoute]) -> list[ServedRoute]:
    """Every API route of an app (`app.routes`), through the routers that include it."""
    served = []
    for context in iter_route_contexts(list(routes)):
        original = context.original_route
        if isinstance(original, APIRoute):
            served.append(
                ServedRoute(
                    path=context.path or original.path,
                    path_format=context.path_format or original.path_format,
                    methods=frozenset(context.methods or ()),
                    guard=declared_guard(context.dependencies),
                    route=original,
                )
            )
    return served


def unscoped_routes(routes: Iterable[BaseRoute], prefix: str) -> list[str]:
    """`METHOD path` of every API route under `prefix` that declares no domain."""
    return [
        f"{','.join(sorted(route.methods))} {route.path}"
        for route in served_routes(routes)
        if route.path.startswith(prefix) and route.guard is None
    ]


class FailureLimiter:
    """Failed key attempts per client address, in memory, bounded: the last `limit` failure
    times of at most `max_addresses` addresses, and the hashes of as many keys that
    authenticated lately (`trusted`): while an address is limited, those still go through, so
    one client with a revoked key does not lock out the others behind the same NAT or proxy,
    and any other key is refused without being looked up (no guess is tried)."""

    def __init__(
        self,
        *,
        limit: int,
        window_s: float = FAILURE_WINDOW_S,
        max_addresses: int = MAX_TRACKED_ADDRESSES,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._trusted: OrderedDict[str, None] = OrderedDict()

    def trust(self, digest: str) -> None:
        self._trusted.pop(digest, None)
        self._trusted[digest] = None
        while len(self._trusted) > self.max_addresses:
            self._trusted.popitem(last=False)

    def trusted(self, digest: str) -> bool:
        return digest in self._trusted

    def retry_after(self, address: str, *, now: float) -> int | None:
        """Seconds until `address` may try again, or None when it may now."""
        failures = self._failures.get(address)
        if failures is None or len(failures) < self.limit:
            return None
        wait = failures[0] + self.window_s - now
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record(self, address: str, *, now: float) -> None:
        failures = self._failures.pop(address, None) or deque(maxlen=self.limit)
        failures.append(now)
        self._failures[address] = failures  # most recent last
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


def install_auth(app: FastAPI, settings: Settings) -> None:
    app.state.auth_failures = FailureLimiter(limit=settings.auth_failure_limit)


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    api_key = request.headers.get(API_KEY_HEADER)
    return api_key.strip() if api_key and api_key.strip() else None


_MISSING = (
    f"this request needs an API key: send `Authorization: Bearer <key>` or `{API_KEY_HEADER}: "
    "<key>` (`jbts keys create`, or POST /api/v1/keys with an admin key)"
)
_INVALID = "the API key is not valid: it is unknown, expired or revoked"


async def authorize(request: Request, domain: Domain) -> Principal:
    """The caller, once it is known to hold the scope of `domain` for the request's method
    (401, 403 or 429 otherwise). The answer is kept on the request: a second call is free."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    settings: Settings = request.app.state.settings
    if settings.auth is AuthMode.OFF:
        principal = Principal(name=AUTH_OFF, scopes=None)
    else:
        principal = await _authenticate(request)
        needed = scope_for(domain, request.method)
        if not principal.holds(needed):
            held = ", ".join(sorted(principal.scopes or ())) or "none"
            raise Forbidden(
                f"this operation needs the scope `{needed}`; the key {principal.name!r} holds: "
                f"{held}",
                extensions={"required_scope": needed},
            )
    request.state.principal = principal
    return principal


async def _authenticate(request: Request) -> Principal:
    limiter: FailureLimiter = request.app.state.auth_failures
    address = request.client.host if request.client else "unknown"
    now = time.monotonic()
    secret = _presented_key(request)
    if secret is None:
        raise Unauthorized(_MISSING)  # nothing guessed: not a failed attempt
    wait = limiter.retry_after(address, now=now)
    if wait is not None and not limiter.trusted(key_service.hash_key(secret)):
        limiter.record(address, now=now)
        raise TooManyRequests(
            f"too many requests with an invalid API key from this address: retry in {wait} s",
            retry_after=wait,
        )
    key = await key_service.find_key(secret)
    if key is None:
        limiter.record(address, now=now)
        # Never the key itself, nor any part of it: it may be a real key sent to the wrong place.
        logger.warning("API key refused: %s %s from %s", request.method, request.url.path, address)
        raise InvalidKey(_INVALID)
    limiter.trust(key.hash)
    return Principal(name=key.name, scopes=key_service.effective(key.scopes), key=key)


def current_principal(request: Request) -> Principal:
    """The caller of a route under `/api/v1` (authorized before the route runs)."""
    principal: Principal = request.state.principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


# OpenAPI ---------------------------------------------------------------------------------------

_PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
SECURITY_SCHEMES: dict[str, Any] = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`jbts_...`) as a bearer token: `Authorization: Bearer <key>`.",
    },
    API_KEY_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": f"The same API key in `{API_KEY_HEADER}`, for tools that cannot send a "
        "bearer token.",
    },
}
_AUTH_RESPONSES: dict[str, Any] = {
    "401": {
        "description": "No API key, or one that is unknown, expired or revoked.",
        "headers": {
            "WWW-Authenticate": {
                "description": 'How to authenticate: `Bearer realm="jbts"`.',
                "schema": {"type": "string"},
            }
        },
        "content": _PROBLEM,
    },
    "403": {
        "description": "The API key lacks the scope this operation needs (`required_scope`).",
        "content": _PROBLEM,
    },
    "429": {
        "description": "Too many requests with invalid API keys from this address: retry after "
        "`Retry-After` seconds.",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer"},
            }
        },
        "content": _PROBLEM,
    },
}


def document_security(schema: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    """Declare the security schemes, and on each scoped operation its requirement, its scope
    (`x-required-scope`, and a line of its description) and its 401/403/429 answers."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    paths = schema.get("paths", {})
    for route in served_routes(routes):
        for method in route.methods:
            operation = paths.get(route.path_format, {}).get(method.lower())
            scope = route.required_scope(method)
            if operation is None or scope is None:
                continue
            operation["security"] = [{BEARER_SCHEME: []}, {API_KEY_SCHEME: []}]
            operation[REQUIRED_SCOPE_EXTENSION] = str(scope)
            note = f"Requires an API key with the scope `{scope}`"
            if scope is not Scope.ADMIN:
                note += " (or one that includes it)"
            description = operation.get("description", "")
            operation["description"] = f"{description}\n\n{note}." if description else f"{note}."
            responses = operation.setdefault("responses", {})
            for status, response in _AUTH_RESPONSES.items():
                responses.setdefault(status, response)
