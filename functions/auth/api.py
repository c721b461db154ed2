"""Auth HTTP API: login (R-AUTH-1), JWKS (R-AUTH-2), passwords from invitations (R-AUTH-4/5),
the caller's own account, and the admins' account and role management (R-AUTH-6/7)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from auth import store, tokens, views
from auth.domain import INVITATION_TTL_SECONDS, Account, Claims, normalise_email
from auth.events import account_events
from auth.invitations import invite
from auth.passwords import hash_password, needs_rehash, verify_password, weakness
from auth.settings import get as settings
from shared import clock, dynamo, pagination, sorting
from shared.errors import Conflict, Gone, NotFound, TooManyRequests, Unauthorized, Unprocessable
from shared.events.outbox import outbox_put
from shared.http import PathId, caller, make_resolver, only, public
from shared.observability import logger, tracer

app = make_resolver()

Role = Literal["worker", "manager", "admin", "accountant"]
REGRANT_CHUNK = 20  # accounts per transaction (+ 1 outbox item): small, so a chunk changed under it is redone cheaply
REGRANT_ATTEMPTS = 5  # a chunk whose accounts keep changing under it is read and written again this often


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Body):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class SetPasswordRequest(Body):
    token: str = Field(min_length=10, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class ChangePasswordRequest(Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class RolesRequest(Body):
    roles: list[Role] = Field(max_length=4)


def _correlation() -> str:
    return app.current_event.request_context.request_id


def _strong(password: str, account: Account) -> str:
    """The hash of a new password, or 422 weak_password saying why it is refused (R-SEC-2)."""
    problem = weakness(password, (account.name, account.email or ""))
    if problem:
        raise Unprocessable(problem, code="weak_password")
    return hash_password(password)


def _upgrade_hash(account: Account, password: str) -> None:
    """An older hash (scrypt, or argon2id below today's parameters) is redone as argon2id now that its
    password is proven (R-SEC-2)."""
    try:
        store.save(account, replace(account, password_hash=hash_password(password)), [])
    except Conflict:
        logger.info("password hash not upgraded: the account changed meanwhile; next sign-in will")


@app.post("/auth/login", **public(), responses=views.LOGIN_ERRORS)
def login(body: LoginRequest) -> views.TokenView:
    email = normalise_email(body.email)
    now = clock.epoch_seconds()
    ticket = _ticket(email, now)
    account = store.find_by_email(email)
    # The hash is checked even for an unknown email so both cases take the same time and get one answer.
    password_ok = verify_password(body.password, account.password_hash if account else None)
    if not (account and password_ok and account.active):
        store.record_failure(email, now)
        logger.info("sign-in refused", known=account is not None)
        raise Unauthorized("wrong email or password", code="invalid_credentials")
    store.give_back(email, ticket)  # a right password is not a failure
    if needs_rehash(account.password_hash):
        _upgrade_hash(account, body.password)
    return _token_for(account, now)


def _ticket(email: str, now: int) -> str:
    """The ticket to have one password of this email judged, taken BEFORE the check (R-SEC-1), so a burst of
    guesses gets at most five checks; 429 `locked` when the email is locked or its window is full."""
    try:
        return store.take_ticket(email, now)
    except store.NoTicket as refused:
        raise TooManyRequests(
            f"too many failed sign-ins for this email; try again in {-(-refused.retry_after // 60)} minutes",
            retry_after=refused.retry_after,
            code="locked",
        ) from None


def _token_for(account: Account, now: int) -> dict[str, Any]:
    """An access token of the account's current session epoch (R-AUTH-1, R-SEC-3)."""
    config = settings()
    claims = Claims.issue(
        account, issuer=config.token_issuer, audience=config.token_audience, now=now, ttl=config.token_ttl_seconds
    )
    token = tokens.sign(claims, config.signing_key_id)
    return {"access_token": token, "token_type": "Bearer", "expires_in": config.token_ttl_seconds}


@app.get("/auth/.well-known/jwks.json", **public())
def jwks() -> views.JwksView:
    return tokens.jwks(settings().verification_key_ids)


@app.post("/auth/password", **public(), responses=views.SET_PASSWORD_ERRORS)
def set_password(body: SetPasswordRequest) -> views.PasswordSetView:
    """Redeem an invitation link: once, before it expires, and only the account's newest (410 otherwise).
    Setting the password this way (a first one, or a reset) ends every earlier session (R-SEC-3)."""
    invitation = store.get_invitation(body.token)
    if not invitation:
        raise Gone("this link has expired or was already used; ask an admin for a new invitation",
                   code="invitation_gone")  # fmt: skip
    account = store.get_account(invitation["account_id"])
    if account is None or not account.active:
        raise Gone("this account is no longer active", code="invitation_gone")
    store.redeem_invitation(account, account.with_new_password(_strong(body.password, account)), body.token)
    return {"account_id": account.account_id, "email": account.email}


@app.post("/auth/password/change", responses=views.CHANGE_PASSWORD_ERRORS)
def change_password(body: ChangePasswordRequest) -> views.PasswordChangedView:
    """Every session opened before the change ends (R-SEC-3), the caller's too: the answer carries a token of
    the new session, so the person who changed it stays signed in where they did."""
    account = store.get_account(caller(app).employee_id)
    if account is None:
        raise NotFound("your account no longer exists")
    # The current password is judged under the sign-in lock-out of its email (R-SEC-1): a stolen token must
    # not become an unlimited password oracle, and guesses here and at sign-in count together.
    email, now = normalise_email(account.email or account.account_id), clock.epoch_seconds()
    ticket = _ticket(email, now)
    if not verify_password(body.current_password, account.password_hash):
        store.record_failure(email, now)
        raise Unprocessable("the current password is not right", code="wrong_password")
    store.give_back(email, ticket)
    changed = account.with_new_password(_strong(body.new_password, account))
    store.save(account, changed, [])
    return {"account_id": account.account_id, "changed": True, **_token_for(changed, clock.epoch_seconds())}


@app.get("/auth/me", responses=views.ME_ERRORS)
def me() -> views.AccountView:
    account = store.get_account(caller(app).employee_id)
    if account is None:
        raise NotFound("your account no longer exists")
    return account.public()


@app.get("/auth/accounts", **only("admin"))
def list_accounts(
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    q: Annotated[str | None, Query(max_length=1000, description="the start of an email, any case")] = None,
    sort: Annotated[str | None, Query(max_length=100, description="`email` (the only order)")] = None,
    order: Annotated[str | None, Query(max_length=100, description="`asc` (default) or `desc`")] = None,
) -> views.AccountsPage:
    """R-UI-5: searched by the start of an email and sorted by email either way (an index in email order)."""
    _, ascending = sorting.direction({"email": "asc"}, sort, order, "Accounts")
    prefix = sorting.search_text(q, "an email")
    accounts, next_cursor = store.list_accounts(limit, cursor, prefix=prefix, ascending=ascending)
    now = clock.epoch_seconds()
    locks = store.locks_of([a.email for a in accounts if a.email])
    items = []
    for account in accounts:
        locked_until = locks.get(account.email or "", 0)
        shown = clock.iso(clock.datetime.fromtimestamp(locked_until, clock.UTC)) if locked_until > now else None
        items.append({**account.public(), "locked_until": shown})
    return {"items": items, "next_cursor": next_cursor}


@app.put("/auth/accounts/<account_id>/roles", **only("admin"), responses=views.ACCOUNT_ERRORS)
def set_account_roles(account_id: PathId, body: RolesRequest) -> views.AccountView:
    before = store.get_account(account_id)
    if before is None:
        raise NotFound(f"no account {account_id}")
    after = before.with_roles(tuple(dict.fromkeys(body.roles)), store.department_roles(before.department_id))
    store.save(before, after, account_events(before, after, _correlation()))
    return after.public()


@app.post("/auth/accounts/<account_id>/invitation", **only("admin"), status_code=202, responses=views.INVITATION_ERRORS)
def send_invitation(account_id: PathId) -> Response[views.InvitationSentView]:
    """A new set-password link for a popug whose invitation expired or got lost (admins)."""
    account = store.get_account(account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    if not account.active or not account.email:
        raise Conflict("this account is not active: no invitation can be sent", code="inactive_account")
    dynamo.transact(invite(account.account_id, account.email, account.name))
    body = {"account_id": account.account_id, "email": account.email, "expires_in": INVITATION_TTL_SECONDS}
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body)


@app.get("/auth/departments/<department_id>/roles", **only("admin"))
def get_department_roles(department_id: PathId) -> views.DepartmentRolesView:
    return {"department_id": department_id, "roles": list(store.department_roles(department_id))}


@app.put("/auth/departments/<department_id>/roles", **only("admin"))
def set_department_roles(department_id: PathId, body: RolesRequest) -> views.DepartmentRolesSetView:
    """Grant roles to everyone in a department, now and later (R-AUTH-6). The grant is stored first;
    accounts are then updated in chunks, each with its events; re-sending the same grant finishes a
    run that was cut short."""
    roles = list(dict.fromkeys(body.roles))
    dynamo.transact([store.department_roles_action(department_id, roles)])
    changed, cursor = 0, None
    while True:
        chunk_changed, cursor = _regrant(department_id, cursor)
        changed += chunk_changed
        if not cursor:
            break
    return {"department_id": department_id, "roles": roles, "accounts_changed": changed}


def _regrant(department_id: str, cursor: str | None) -> tuple[int, str | None]:
    """Bring one chunk of a department's accounts to the department's grant as it is stored now; returns
    how many changed and the next chunk's cursor. An account changed between the read and the write (an
    admin's edit, another grant to the same department running at the same time) fails the write, and the
    chunk is read and written again: reading the stored grant each time, every account ends with the last
    grant stored, whichever request writes last."""
    for _ in range(REGRANT_ATTEMPTS):
        grant = store.department_roles(department_id)
        accounts, next_cursor = store.accounts_in_department(department_id, REGRANT_CHUNK, cursor)
        actions, events = [], []
        for before in accounts:
            after = before.with_roles(before.own_roles, grant)
            if after.version != before.version:
                actions += store.account_actions(before, after)
                events += account_events(before, after, _correlation())
        if not events:
            return 0, next_cursor
        try:
            dynamo.transact([*actions, outbox_put(store.table(), events)])
        except ClientError as error:
            if not {"ConditionalCheckFailed", "TransactionConflict"} & set(dynamo.cancellation_codes(error)):
                raise
            continue
        return len(events), next_cursor
    raise Conflict(
        "The department's accounts kept changing while its roles were granted. Send the same roles again to finish.",
        code="stale",
    )


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
