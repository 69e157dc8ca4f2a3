"""`/keys`: API keys, for `admin` keys only. A key's secret is in its creation's answer only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from api.auth import keys as key_service
from api.auth.guard import Domain, PrincipalDep, requires
from api.auth.schemas import KeyCreate, KeyCreated, KeyRead
from api.deps import ObjectIdPath, require_json_body
from api.errors import Conflict, problem_responses
from api.idempotency.routes import IdempotentRoute
from documents.base import utcnow

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/keys",
    tags=["keys"],
    dependencies=[requires(Domain.ADMIN), Depends(require_json_body)],
    responses=problem_responses(422),
)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 415))
async def create_key(
    data: KeyCreate, principal: PrincipalDep, request: Request, response: Response
) -> KeyCreated:
    """Create a key. The answer holds its secret (`key`): store it now, it is never shown again.

    The answer is not kept for `Idempotency-Key` replays (the secret is stored nowhere): a retry
    runs again, and answers 409 when the first attempt created the key (list the keys to see;
    revoke it and create another to get a secret)."""
    now = utcnow()
    created = await key_service.create_key(
        name=data.name, scopes=data.scopes, created_by=principal.label, expires_at=data.expiry(now)
    )
    response.headers["Location"] = request.url_for("get_key", id=str(created.key.id)).path
    response.headers["Cache-Control"] = "no-store"
    read = KeyRead.of_key(created.key, now=now)
    return KeyCreated(**read.model_dump(), key=created.secret)


@router.get("")
async def list_keys() -> list[KeyRead]:
    """Every key, newest first, revoked and expired ones too (`status`); never a secret."""
    now = utcnow()
    return [KeyRead.of_key(key, now=now) for key in await key_service.list_keys()]


@router.get("/{id:item}", responses=problem_responses(404))
async def get_key(id: ObjectIdPath) -> KeyRead:
    """One key, without its secret."""
    return KeyRead.of_key(await key_service.get_key(id=id), now=utcnow())


@router.delete(
    "/{id:item}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 409)
)
async def revoke_key(id: ObjectIdPath, principal: PrincipalDep) -> None:
    """Revoke a key: its next request is refused (401). Revoking a revoked key changes nothing.
    A key cannot revoke itself (409): revoke it with another admin key or `jbts keys revoke`."""
    key = await key_service.get_key(id=id)
    if principal.key is not None and principal.key.id == key.id:
        raise Conflict("this is the key of this request: revoke it with another admin key")
    await key_service.revoke_key(key)
