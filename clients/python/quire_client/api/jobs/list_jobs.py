from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_body import ErrorBody
from ...models.job_kind import JobKind
from ...models.job_page import JobPage
from ...models.job_status import JobStatus
from ...types import UNSET, Unset
from typing import cast
import datetime



def _get_kwargs(
    *,
    status: JobStatus | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    batch: str | Unset = UNSET,
    search: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    json_kind: str | Unset = UNSET
    if not isinstance(kind, Unset):
        json_kind = kind.value

    params["kind"] = json_kind

    json_since: str | Unset = UNSET
    if not isinstance(since, Unset):
        json_since = since.isoformat()
    params["since"] = json_since

    json_until: str | Unset = UNSET
    if not isinstance(until, Unset):
        json_until = until.isoformat()
    params["until"] = json_until

    params["batch"] = batch

    params["search"] = search

    params["limit"] = limit

    params["cursor"] = cursor


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/jobs",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | JobPage | None:
    if response.status_code == 200:
        response_200 = JobPage.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())



        return response_401

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | JobPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: JobStatus | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    batch: str | Unset = UNSET,
    search: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> Response[ErrorBody | JobPage]:
    """ The caller's jobs (every job for admin keys), newest first.

    Args:
        status (JobStatus | Unset): A job's status: `scheduled` (waiting for `run_at`), `waiting`
            (a workflow step whose parents have not all ended), `queued`, `running`, `succeeded`,
            `failed` (will retry), `dead` or `cancelled`.
        kind (JobKind | Unset): What a job does.
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        batch (str | Unset):
        search (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | JobPage]
     """


    kwargs = _get_kwargs(
        status=status,
kind=kind,
since=since,
until=until,
batch=batch,
search=search,
limit=limit,
cursor=cursor,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    status: JobStatus | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    batch: str | Unset = UNSET,
    search: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> ErrorBody | JobPage | None:
    """ The caller's jobs (every job for admin keys), newest first.

    Args:
        status (JobStatus | Unset): A job's status: `scheduled` (waiting for `run_at`), `waiting`
            (a workflow step whose parents have not all ended), `queued`, `running`, `succeeded`,
            `failed` (will retry), `dead` or `cancelled`.
        kind (JobKind | Unset): What a job does.
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        batch (str | Unset):
        search (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | JobPage
     """


    return sync_detailed(
        client=client,
status=status,
kind=kind,
since=since,
until=until,
batch=batch,
search=search,
limit=limit,
cursor=cursor,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: JobStatus | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    batch: str | Unset = UNSET,
    search: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> Response[ErrorBody | JobPage]:
    """ The caller's jobs (every job for admin keys), newest first.

    Args:
        status (JobStatus | Unset): A job's status: `scheduled` (waiting for `run_at`), `waiting`
            (a workflow step whose parents have not all ended), `queued`, `running`, `succeeded`,
            `failed` (will retry), `dead` or `cancelled`.
        kind (JobKind | Unset): What a job does.
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        batch (str | Unset):
        search (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | JobPage]
     """


    kwargs = _get_kwargs(
        status=status,
kind=kind,
since=since,
until=until,
batch=batch,
search=search,
limit=limit,
cursor=cursor,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    status: JobStatus | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    batch: str | Unset = UNSET,
    search: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> ErrorBody | JobPage | None:
    """ The caller's jobs (every job for admin keys), newest first.

    Args:
        status (JobStatus | Unset): A job's status: `scheduled` (waiting for `run_at`), `waiting`
            (a workflow step whose parents have not all ended), `queued`, `running`, `succeeded`,
            `failed` (will retry), `dead` or `cancelled`.
        kind (JobKind | Unset): What a job does.
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        batch (str | Unset):
        search (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | JobPage
     """


    return (await asyncio_detailed(
        client=client,
status=status,
kind=kind,
since=since,
until=until,
batch=batch,
search=search,
limit=limit,
cursor=cursor,

    )).parsed
