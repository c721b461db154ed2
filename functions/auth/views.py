"""What the auth API answers: its success bodies (the routes' return annotations, so the OpenAPI document
says them and every answer is checked against them) and each route's own error statuses. The errors the
shared layer answers for every route of a kind (401, 403, 400/413/415, 422, 429) are added by
`shared.http`."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from shared.http import ResponseModel, errors
from shared.responses import Page

Role = Literal["worker", "manager", "admin", "accountant"]
STALE = (409, "the account changed meanwhile; try again (`stale`)")

LOGIN_ERRORS = errors(
    (401, "wrong email or password, or an inactive account: one answer for all (`invalid_credentials`)"),
    (429, "too many failed sign-ins for this email (`locked`, with Retry-After), or the gateway's throttle"),
)
SET_PASSWORD_ERRORS = errors((410, "the link expired or was used, or the account left (`invitation_gone`)"), STALE)
GONE_ACCOUNT = (404, "the caller's account no longer exists (`not_found`)")
ME_ERRORS = errors(GONE_ACCOUNT)
CHANGE_PASSWORD_ERRORS = errors(GONE_ACCOUNT, STALE)
ACCOUNT_ERRORS = errors(404, STALE)
INVITATION_ERRORS = errors(404, (409, "the account is not active (`inactive_account`)"))


class TokenView(ResponseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="seconds")


class Jwk(ResponseModel):
    """One public signing key (RFC 7517); other members of a JWK may appear."""

    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str
    use: Literal["sig"]
    alg: str


class JwksView(ResponseModel):
    keys: list[Jwk]


class PasswordSetView(ResponseModel):
    account_id: str
    email: str | None


class PasswordChangedView(TokenView):
    """The change ended every earlier session, the caller's too (R-SEC-3): a token of the new one comes back."""

    account_id: str
    changed: bool


class AccountView(ResponseModel):
    account_id: str
    employee_id: str = Field(description="the same id: an account belongs to the employee of that id")
    email: str | None
    name: str
    roles: list[Role] = Field(description="what the account may do: its own roles and its department's")
    own_roles: list[Role]
    active: bool
    department_id: str | None
    version: int


class ListedAccountView(AccountView):
    locked_until: str | None = Field(description="set while sign-ins for its email are locked out")


class InvitationSentView(ResponseModel):
    account_id: str
    email: str
    expires_in: int = Field(description="seconds the new link stays valid")


class DepartmentRolesView(ResponseModel):
    department_id: str
    roles: list[Role]


class DepartmentRolesSetView(DepartmentRolesView):
    accounts_changed: int


AccountsPage = Page[ListedAccountView]
