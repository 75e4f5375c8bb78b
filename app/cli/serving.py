"""What `smsgate serve` sets up before uvicorn starts its worker processes.

The metrics directory goes into the environment before anything imports prometheus_client
(the library picks file-backed values at import), which is why this module must not import
app.metrics.
"""

import os
from pathlib import Path
from typing import Any

from app.config import Settings
from app.observability.logs import configure_logging


def metrics_dir(settings: Settings) -> Path:
    return settings.data_dir.expanduser().resolve() / "metrics"


def prepare(settings: Settings) -> dict[str, Any]:
    """Empty the metrics directory of a previous run and export it to the workers; route
    logging through structlog. Returns uvicorn.run's logging arguments."""
    directory = metrics_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    # Only now may the adapters (and through their guard, prometheus_client) be imported.
    from app.providers.registry import secret_values as provider_secrets

    configure_logging(settings, extra_secrets=provider_secrets(settings))
    # uvicorn leaves logging alone (each worker's create_app configures it) and prints no
    # access line of its own: the access middleware writes one per request.
    return {"log_config": None, "access_log": False}
