"""The admin API's one error shape: every refusal (400, 401, 404, 405, 409, 422) answers
{message, detail}, and /openapi.json documents, for each route, the errors it can answer."""

from __future__ import annotations

import httpx

from notifier.plain_text import LINE_PATTERN, TEXT_PATTERN
from notifier.web.api_errors import ErrorOut
from tests.helpers import AUTH, AppClient

ERROR = {"$ref": "#/components/schemas/ErrorOut"}


def error_of(response: httpx.Response, status: int) -> ErrorOut:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"message", "detail"}
    error = ErrorOut.model_validate(response.json())
    assert error.message
    return error


async def test_every_refusal_has_the_one_shape(api: AppClient) -> None:
    _, client = api
    anonymous = await client.get("/api/cases")
    assert error_of(anonymous, 401).message == "a valid bearer token is required"
    assert anonymous.headers["www-authenticate"] == "Bearer"

    missing = error_of(await client.get("/api/cases/nobody", headers=AUTH), 404)
    assert (missing.message, missing.detail) == ("no case 'nobody'", [])

    added = await client.post("/api/subscribers", json={"email": "b@example.org"}, headers=AUTH)
    assert added.status_code == 201
    active = await client.post("/api/subscribers/b@example.org/reactivate", headers=AUTH)
    [conflict] = error_of(active, 409).detail
    assert (conflict.field, conflict.type) == ("status", "conflict")
    assert conflict.msg.startswith("b@example.org is active, not bounced")

    typed = error_of(await client.patch("/api/updates/one", json={}, headers=AUTH), 422)
    [problem] = typed.detail
    assert (problem.loc, problem.field) == (["path", "update_id"], "update_id")
    assert typed.message == f"update_id: {problem.msg}"

    broken = await client.post(
        "/api/outbox/retry",
        content=b'{"ids": [1,',
        headers=AUTH | {"Content-Type": "application/json"},
    )
    [syntax] = error_of(broken, 422).detail
    assert (syntax.field, syntax.type) == ("body", "json_invalid")

    not_utf8 = await client.post(
        "/api/outbox/retry",
        content=b'{"ids": [1], "x": "\xc3("}',
        headers=AUTH | {"Content-Type": "application/json"},
    )
    error_of(not_utf8, 400)

    unknown_method = await client.put("/api/cases", headers=AUTH)
    error_of(unknown_method, 405)
    # Both routes of the path: Starlette named only the first one's.
    assert unknown_method.headers["allow"] == "GET, POST"


async def test_openapi_documents_each_routes_errors(api: AppClient) -> None:
    _, client = api
    spec = (await client.get("/openapi.json")).json()
    operations = [
        (method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 20
    for method, path, operation in operations:
        responses = operation["responses"]
        where = f"{method} {path}"
        assert {"401", "403"} <= responses.keys(), where
        assert responses["401"]["headers"]["WWW-Authenticate"]["schema"]["const"] == "Bearer"
        for code, response in responses.items():
            if code.startswith("4"):
                assert response["content"]["application/json"]["schema"] == ERROR, where
        parameters = operation.get("parameters", [])
        if any(p["in"] == "path" for p in parameters):
            assert {"404", "422"} <= responses.keys(), where
        if parameters:
            assert "422" in responses, where
        if "requestBody" in operation:
            assert {"400", "422"} <= responses.keys(), where
    codes = {f"{m} {p}": set(o["responses"]) for m, p, o in operations}
    assert "409" in codes["PATCH /api/updates/{update_id}"]
    assert "409" in codes["POST /api/subscribers/{email}/reactivate"]
    assert codes["GET /api/lists"] == {"200", "401", "403"}
    # FastAPI's own 422 shape is nowhere: every error is ErrorOut.
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_openapi_says_which_characters_text_may_hold(api: AppClient) -> None:
    _, client = api
    spec = (await client.get("/openapi.json")).json()
    slug = spec["paths"]["/api/cases/{slug}"]["get"]["parameters"][0]
    assert slug["schema"]["pattern"] == LINE_PATTERN
    update = spec["components"]["schemas"]["UpdateIn"]["properties"]
    assert update["title"]["pattern"] == update["body"]["pattern"] == TEXT_PATTERN
    subscriber = spec["components"]["schemas"]["SubscriberIn"]["properties"]
    assert subscriber["name"]["pattern"] == LINE_PATTERN
    case = spec["components"]["schemas"]["UpdateSpec"]["properties"]
    assert case["title"]["pattern"] == TEXT_PATTERN  # nested in POST /api/cases
    assert "pattern" not in spec["components"]["schemas"]["ErrorOut"]["properties"]["message"]
