"""The stack the project replaced, as a baseline for bench/run.sh: FastAPI served by uvicorn
with one worker, redis-py INCR against the bench's Redis primary — all from Debian packages
(scripts/setup.sh --bench). It answers the increment the way count-write-service does
(docs/API.md: 200 {"id","value","updatedAt"}) but does less: no API key check, no idempotency
record, no event, no validation of the counter id. Its figures are therefore an upper bound of
what this stack does with the same work.

  REDIS_URL=redis://127.0.0.1:6379 uvicorn --workers 1 --app-dir bench/seed_stack app:app
"""
import datetime
import os

import redis.asyncio as redis
from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI()
store = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))


class Increment(BaseModel):
    amount: int = Field(1, ge=1)


@app.post("/api/v1/counts/{count_id}/increment")
async def increment(count_id: str, body: Increment | None = None):
    value = await store.incr(f"bench:seed:{count_id}", body.amount if body else 1)
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"id": count_id, "value": value,
            "updatedAt": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


@app.get("/ready")
async def ready():
    await store.ping()
    return {"status": "ready"}
