"""`neutrino server`: read the config, migrate the database, serve the API with uvicorn.

Logs are one JSON object per line on stderr (request lines carry the request id).
The server keeps no state of its own, so several copies can serve one database.
"""

import json
import logging
import sys

from .config import Config


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
        }
        try:
            data = json.loads(message)
            entry.update(data if isinstance(data, dict) else {"message": message})
        except ValueError:
            entry["message"] = message
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger("neutrino")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def make_app(config: Config):
    from .api.app import build_app
    from .db.database import Database
    from .db.migrate import upgrade

    db = Database(config.server.database, config.server.sqlite_synchronous)
    upgrade(db)
    return build_app(config, db)


def serve(config: Config) -> None:
    import uvicorn

    setup_logging()
    app = make_app(config)
    log = logging.getLogger("neutrino.server")
    log.info(
        json.dumps(
            {
                "message": "serving",
                "url": config.server.url(),
                "database": _redacted(config.server.database),
                "auth_strategy": config.server.auth_strategy,
            }
        )
    )
    uvicorn.run(
        app, host=config.server.host, port=config.server.port, log_level="warning", access_log=False
    )


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
