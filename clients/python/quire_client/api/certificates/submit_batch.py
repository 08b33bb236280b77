from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.batch_request import BatchRequest
from ...models.batch_view import BatchView
from ...models.error_body import ErrorBody
from ...models.pdf_standard import PdfStandard
from ...models.priority_choice import PriorityChoice
from ...types import File, FileTypes
from ...types import UNSET, Unset
from io import BytesIO
from typing import cast
import datetime



def _get_kwargs(
    *,
    body:    BatchRequest  |     File  | Unset = UNSET,
    template: str | Unset = UNSET,
    is_public: bool | Unset = UNSET,
    pdf_standard: PdfStandard | Unset = UNSET,
    priority: PriorityChoice | Unset = UNSET,
    run_at: datetime.datetime | Unset = UNSET,
    delay_secs: int | Unset = UNSET,
    callback_url: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key



    

    params: dict[str, Any] = {}

    params["template"] = template

    params["is_public"] = is_public

    json_pdf_standard: str | Unset = UNSET
    if not isinstance(pdf_standard, Unset):
        json_pdf_standard = pdf_standard.value

    params["pdf_standard"] = json_pdf_standard

    json_priority: str | Unset = UNSET
    if not isinstance(priority, Unset):
        json_priority = priority.value

    params["priority"] = json_priority

    json_run_at: str | Unset = UNSET
    if not isinstance(run_at, Unset):
        json_run_at = run_at.isoformat()
    params["run_at"] = json_run_at

    params["delay_secs"] = delay_secs

    params["callback_url"] = callback_url


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/certificates/batch",
        "params": params,
    }

    if isinstance(body, BatchRequest):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"
    if isinstance(body, File):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "text/csv"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> BatchView | ErrorBody | None:
    if response.status_code == 200:
        response_200 = BatchView.from_dict(response.json())



        return response_200

    if response.status_code == 202:
        response_202 = BatchView.from_dict(response.json())



        return response_202

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())



        return response_403

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())



        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())



        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())



        return response_415

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())



        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())



        return response_429

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[BatchView | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body:    BatchRequest  |     File  | Unset = UNSET,
    template: str | Unset = UNSET,
    is_public: bool | Unset = UNSET,
    pdf_standard: PdfStandard | Unset = UNSET,
    priority: PriorityChoice | Unset = UNSET,
    run_at: datetime.datetime | Unset = UNSET,
    delay_secs: int | Unset = UNSET,
    callback_url: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Response[BatchView | ErrorBody]:
    """ Issue up to 10,000 certificates at once, from JSON or CSV.

    Args:
        template (str | Unset):
        is_public (bool | Unset):
        pdf_standard (PdfStandard | Unset): The standards a PDF is exported to meet: one PDF/A
            level, PDF/UA-1 (`ua-1`), or both (`a-2a+ua-1`). typst checks the document as it writes
            it: a template that cannot meet it is refused at upload, and a job that cannot ends `dead`
            with `nonconforming`.
        priority (PriorityChoice | Unset): The priorities a client may ask for. `high` is above
            every default: admin keys only.
        run_at (datetime.datetime | Unset):
        delay_secs (int | Unset):
        callback_url (str | Unset):
        idempotency_key (str | Unset):
        body (BatchRequest): A batch as JSON. CSV uploads (`Content-Type: text/csv`) send the rows
            as CSV with a header
            row of field names (`recipient_name`, `course_name`, `issued_on`, `issuer_name`,
            `expires_on`, and the template's declared fields), and `template` / `is_public` as query
            parameters. `run_at` and `delay_secs` exclude each other.
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BatchView | ErrorBody]
     """


    kwargs = _get_kwargs(
        body=body,
template=template,
is_public=is_public,
pdf_standard=pdf_standard,
priority=priority,
run_at=run_at,
delay_secs=delay_secs,
callback_url=callback_url,
idempotency_key=idempotency_key,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body:    BatchRequest  |     File  | Unset = UNSET,
    template: str | Unset = UNSET,
    is_public: bool | Unset = UNSET,
    pdf_standard: PdfStandard | Unset = UNSET,
    priority: PriorityChoice | Unset = UNSET,
    run_at: datetime.datetime | Unset = UNSET,
    delay_secs: int | Unset = UNSET,
    callback_url: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> BatchView | ErrorBody | None:
    """ Issue up to 10,000 certificates at once, from JSON or CSV.

    Args:
        template (str | Unset):
        is_public (bool | Unset):
        pdf_standard (PdfStandard | Unset): The standards a PDF is exported to meet: one PDF/A
            level, PDF/UA-1 (`ua-1`), or both (`a-2a+ua-1`). typst checks the document as it writes
            it: a template that cannot meet it is refused at upload, and a job that cannot ends `dead`
            with `nonconforming`.
        priority (PriorityChoice | Unset): The priorities a client may ask for. `high` is above
            every default: admin keys only.
        run_at (datetime.datetime | Unset):
        delay_secs (int | Unset):
        callback_url (str | Unset):
        idempotency_key (str | Unset):
        body (BatchRequest): A batch as JSON. CSV uploads (`Content-Type: text/csv`) send the rows
            as CSV with a header
            row of field names (`recipient_name`, `course_name`, `issued_on`, `issuer_name`,
            `expires_on`, and the template's declared fields), and `template` / `is_public` as query
            parameters. `run_at` and `delay_secs` exclude each other.
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BatchView | ErrorBody
     """


    return sync_detailed(
        client=client,
body=body,
template=template,
is_public=is_public,
pdf_standard=pdf_standard,
priority=priority,
run_at=run_at,
delay_secs=delay_secs,
callback_url=callback_url,
idempotency_key=idempotency_key,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body:    BatchRequest  |     File  | Unset = UNSET,
    template: str | Unset = UNSET,
    is_public: bool | Unset = UNSET,
    pdf_standard: PdfStandard | Unset = UNSET,
    priority: PriorityChoice | Unset = UNSET,
    run_at: datetime.datetime | Unset = UNSET,
    delay_secs: int | Unset = UNSET,
    callback_url: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Response[BatchView | ErrorBody]:
    """ Issue up to 10,000 certificates at once, from JSON or CSV.

    Args:
        template (str | Unset):
        is_public (bool | Unset):
        pdf_standard (PdfStandard | Unset): The standards a PDF is exported to meet: one PDF/A
            level, PDF/UA-1 (`ua-1`), or both (`a-2a+ua-1`). typst checks the document as it writes
            it: a template that cannot meet it is refused at upload, and a job that cannot ends `dead`
            with `nonconforming`.
        priority (PriorityChoice | Unset): The priorities a client may ask for. `high` is above
            every default: admin keys only.
        run_at (datetime.datetime | Unset):
        delay_secs (int | Unset):
        callback_url (str | Unset):
        idempotency_key (str | Unset):
        body (BatchRequest): A batch as JSON. CSV uploads (`Content-Type: text/csv`) send the rows
            as CSV with a header
            row of field names (`recipient_name`, `course_name`, `issued_on`, `issuer_name`,
            `expires_on`, and the template's declared fields), and `template` / `is_public` as query
            parameters. `run_at` and `delay_secs` exclude each other.
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BatchView | ErrorBody]
     """


    kwargs = _get_kwargs(
        body=body,
template=template,
is_public=is_public,
pdf_standard=pdf_standard,
priority=priority,
run_at=run_at,
delay_secs=delay_secs,
callback_url=callback_url,
idempotency_key=idempotency_key,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body:    BatchRequest  |     File  | Unset = UNSET,
    template: str | Unset = UNSET,
    is_public: bool | Unset = UNSET,
    pdf_standard: PdfStandard | Unset = UNSET,
    priority: PriorityChoice | Unset = UNSET,
    run_at: datetime.datetime | Unset = UNSET,
    delay_secs: int | Unset = UNSET,
    callback_url: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> BatchView | ErrorBody | None:
    """ Issue up to 10,000 certificates at once, from JSON or CSV.

    Args:
        template (str | Unset):
        is_public (bool | Unset):
        pdf_standard (PdfStandard | Unset): The standards a PDF is exported to meet: one PDF/A
            level, PDF/UA-1 (`ua-1`), or both (`a-2a+ua-1`). typst checks the document as it writes
            it: a template that cannot meet it is refused at upload, and a job that cannot ends `dead`
            with `nonconforming`.
        priority (PriorityChoice | Unset): The priorities a client may ask for. `high` is above
            every default: admin keys only.
        run_at (datetime.datetime | Unset):
        delay_secs (int | Unset):
        callback_url (str | Unset):
        idempotency_key (str | Unset):
        body (BatchRequest): A batch as JSON. CSV uploads (`Content-Type: text/csv`) send the rows
            as CSV with a header
            row of field names (`recipient_name`, `course_name`, `issued_on`, `issuer_name`,
            `expires_on`, and the template's declared fields), and `template` / `is_public` as query
            parameters. `run_at` and `delay_secs` exclude each other.
        body (File):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BatchView | ErrorBody
     """


    return (await asyncio_detailed(
        client=client,
body=body,
template=template,
is_public=is_public,
pdf_standard=pdf_standard,
priority=priority,
run_at=run_at,
delay_secs=delay_secs,
callback_url=callback_url,
idempotency_key=idempotency_key,

    )).parsed
