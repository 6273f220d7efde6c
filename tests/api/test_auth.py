"""Bearer-token authentication: cached principals, and revocations that still take effect."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

from api.auth import PrincipalCache, revocation_epoch
from api.models import ApiToken
from ledger.runtime import Runtime
from ledger.service.principal import Principal, PrincipalKind


def auditor(client: TestClient, governance: dict[str, str]) -> tuple[str, dict[str, str]]:
    issued = client.post("/v1/auditors", json={"label": "NAO"}, headers=governance)
    assert issued.status_code == 201, issued.text
    return issued.json()["token_id"], {"Authorization": f"Bearer {issued.json()['token']}"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_token_is_not_looked_up_again(
    client: TestClient, governance: dict[str, str], runtime: Runtime
) -> None:
    _, headers = auditor(client, governance)
    assert client.get("/v1/departments", headers=headers).status_code == 200
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        assert client.get("/v1/departments", headers=headers).status_code == 200
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)

    assert statements, "the route itself reads the database"
    assert not [s for s in statements if ApiToken.__tablename__ in s]


def test_a_token_revoked_through_the_api_is_refused_at_once_though_cached(
    client: TestClient, governance: dict[str, str]
) -> None:
    token_id, headers = auditor(client, governance)
    assert client.get("/v1/departments", headers=headers).status_code == 200

    assert client.post(f"/v1/tokens/{token_id}/revoke", headers=governance).status_code == 200

    refused = client.get("/v1/departments", headers=headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_a_token_revoked_by_another_replica_is_refused_within_the_ttl(
    client: TestClient, governance: dict[str, str], runtime: Runtime
) -> None:
    clock = Clock()
    client.app.state.principals = PrincipalCache(ttl=1.0, clock=clock)  # type: ignore[attr-defined]
    token_id, headers = auditor(client, governance)
    assert client.get("/v1/departments", headers=headers).status_code == 200
    # Another replica revokes it in the shared database: nothing tells this process.
    with Session(runtime.engine) as session:
        token = session.get(ApiToken, token_id)
        assert token is not None
        token.revoked_at = datetime.now(UTC)
        session.add(token)
        session.commit()

    clock.now = 0.9
    assert client.get("/v1/departments", headers=headers).status_code == 200
    clock.now = 1.0
    assert client.get("/v1/departments", headers=headers).status_code == 401


def test_an_unknown_token_is_not_remembered_as_unknown(
    client: TestClient, runtime: Runtime
) -> None:
    secret = "plk_" + "a" * 43
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/departments", headers=headers).status_code == 401
    with Session(runtime.engine) as session:
        session.add(
            ApiToken(
                id="tok_0123456789abcdef",
                token_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                kind=PrincipalKind.AUDITOR,
            )
        )
        session.commit()

    assert client.get("/v1/departments", headers=headers).status_code == 200


def test_a_lookup_that_raced_a_revocation_is_not_trusted(
    client: TestClient, governance: dict[str, str]
) -> None:
    cache = PrincipalCache()
    principal = Principal(PrincipalKind.AUDITOR, "tok_raced")
    epoch = revocation_epoch()  # taken before the lookup, as get_principal does
    token_id, _ = auditor(client, governance)
    assert client.post(f"/v1/tokens/{token_id}/revoke", headers=governance).status_code == 200

    cache.put("digest", principal, epoch)  # the lookup's answer lands after the revocation

    assert cache.get("digest") is None
    cache.put("digest", principal, revocation_epoch())
    assert cache.get("digest") == principal


def test_the_cache_stays_bounded() -> None:
    cache = PrincipalCache(max_entries=3)
    epoch = revocation_epoch()
    for i in range(10):
        cache.put(f"digest{i}", Principal(PrincipalKind.AUDITOR, f"tok_{i}"), epoch)

    assert sum(cache.get(f"digest{i}") is not None for i in range(10)) <= 3
    assert cache.get("digest9") is not None
