from pydantic import BaseModel

from api.database.capabilities import Capabilities


class Liveness(BaseModel):
    status: str = "ok"


class MigrationStatus(BaseModel):
    current: int
    latest: int


class Readiness(BaseModel):
    status: str = "ready"
    ready: bool = True
    database: str
    migrations: MigrationStatus
    capabilities: Capabilities
