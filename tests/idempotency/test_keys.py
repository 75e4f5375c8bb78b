"""The key pattern and the request hash: no database."""

import pytest
from pydantic import BaseModel

from app.errors import ValidationFailed
from app.idempotency.service import ask, check_key, request_hash


class Body(BaseModel):
    quantity: int = 1
    product_id: int


@pytest.mark.parametrize("key", ["a", "A-_z9", "x" * 128])
def test_allowed_keys(key):
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "has space", "a/b", "a.b", "x" * 129, "ключ"])
def test_refused_keys_name_the_header(key):
    with pytest.raises(ValidationFailed) as raised:
        check_key(key)
    assert raised.value.details == {
        "fields": [{"field": "Idempotency-Key", "message": "must match ^[A-Za-z0-9_-]{1,128}$"}]
    }


def test_the_hash_ignores_spelling_but_not_content():
    model = Body(product_id=5)
    assert request_hash(model) == request_hash({"product_id": 5, "quantity": 1})
    assert request_hash({"b": 1, "a": 2}) == request_hash({"a": 2, "b": 1})
    assert request_hash(model) != request_hash(Body(product_id=5, quantity=2))


def test_no_key_asks_for_nothing():
    assert ask(1, "v1:create", None, {"a": 1}) is None
    asked = ask(1, "v1:create", "k", {"a": 1})
    assert asked is not None and (asked.scope, asked.key) == ("v1:create", "k")
