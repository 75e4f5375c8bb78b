"""Fake upstreams that speak each provider's protocol byte for byte (see each module)."""

from tests.fakes.base import FAULTS, Call, FakeUpstream, serve_on_loopback
from tests.fakes.otpget import FakeOtpget
from tests.fakes.smscode import FakeSmscode

__all__ = ["FAULTS", "Call", "FakeOtpget", "FakeSmscode", "FakeUpstream", "serve_on_loopback"]
