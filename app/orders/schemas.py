"""Request bodies of the order endpoints. Types are strict: "5" is not a number."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

Id = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]  # bigint, as app.api.params.PathId
Money = Annotated[StrictInt, Field(ge=0, le=10**15)]


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    product_id: Id | None = None
    catalog_product_id: Id | None = None
    quantity: Annotated[StrictInt, Field(ge=1, le=100)] = 1
    max_price: Money | None = None
    min_price: Money | None = None
    prefer_provider: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    policy: Literal["cheapest", "best_success"] | None = None
    operator_id: Id | None = None


class OrderRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Id


class OrderReactivate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Id
    max_price: Money | None = None


# --- Response shapes, for the OpenAPI document (handlers build plain dicts) ----------------


class Capabilities(BaseModel):
    can_finish: bool
    can_resend: bool
    can_cancel: bool
    can_replace: bool
    can_reactivate: bool
    resend_available_at: str | None
    cancel_available_at: str | None
    replace_available_at: str | None


class OrderRead(Capabilities):
    id: int
    status: str
    created_at: str
    product_id: int
    catalog_product_id: int
    operator_id: int | None
    operator_name: str | None
    phone_number: str | None
    amount: int
    otp_code: str | None
    otp_message: str | None
    sms_revision: int
    otp_received_at: str | None
    expires_at: str | None
    canceled_at: str | None
    failed_reason: str | None


class ActiveOrderRead(Capabilities):
    id: int
    status: str
    otp_code: str | None
    otp_message: str | None
    sms_revision: int
    otp_received_at: str | None
    expires_at: str | None
    failed_reason: str | None
    operator_id: int | None
    operator_name: str | None


class CreatedOrderRead(Capabilities):
    id: int
    status: str
    phone_number: str | None
    otp_code: str | None
    otp_received_at: str | None
    expires_at: str | None
    failed_reason: str | None
    product_id: int
    catalog_product_id: int
    operator_id: int | None
    operator_name: str | None
    amount: int


class CreateResultRead(BaseModel):
    orders: list[CreatedOrderRead]
    failed_count: int


class CancelRead(BaseModel):
    order_id: int
    status: Literal["CANCELED"]
    refund_amount: int
    new_balance: int


class FinishRead(BaseModel):
    order_id: int
    status: Literal["COMPLETED"]


class ResendRead(BaseModel):
    order_id: int
    status: str
    resent: bool


class ReactivateOptionsRead(BaseModel):
    cost: int
