import asyncio

import httpx
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from api.middleware import Admission


async def slow(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(0.2)
    await PlainTextResponse("ok")(scope, receive, send)


def test_requests_past_the_in_flight_limit_get_a_fast_503() -> None:
    async def go() -> list[tuple[int, str | None]]:
        transport = httpx.ASGITransport(app=Admission(slow, limit=2))
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            answers = await asyncio.gather(*(client.get("/") for _ in range(5)))
        return sorted((a.status_code, a.headers.get("retry-after")) for a in answers)

    assert asyncio.run(go()) == [(200, None), (200, None), (503, "1"), (503, "1"), (503, "1")]


def test_no_limit_admits_everyone() -> None:
    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=Admission(slow))
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            answers = await asyncio.gather(*(client.get("/") for _ in range(5)))
        return [a.status_code for a in answers]

    assert asyncio.run(go()) == [200] * 5
