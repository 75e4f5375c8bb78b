"""Request bodies of the order endpoints. Types are strict: "5" is not a number."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

Id = Annotated[StrictInt, Field(ge=1, le=2**62)]
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
