from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_body import ErrorBody
from ...models.gap_stream_event import GapStreamEvent
from ...models.job_kind import JobKind
from ...models.job_stream_event import JobStreamEvent
from ...types import UNSET, Unset
from typing import cast
from uuid import UUID



def _get_kwargs(
    *,
    job: UUID | Unset = UNSET,
    batch: str | Unset = UNSET,
    workflow: UUID | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = str(last_event_id)




    

    params: dict[str, Any] = {}

    json_job: str | Unset = UNSET
    if not isinstance(job, Unset):
        json_job = str(job)
    params["job"] = json_job

    params["batch"] = batch

    json_workflow: str | Unset = UNSET
    if not isinstance(workflow, Unset):
        json_workflow = str(workflow)
    params["workflow"] = json_workflow

    json_kind: str | Unset = UNSET
    if not isinstance(kind, Unset):
        json_kind = kind.value

    params["kind"] = json_kind

    params["after"] = after


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/events",
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | GapStreamEvent | JobStreamEvent | None:
    if response.status_code == 200:
        def _parse_response_200(data: object) -> GapStreamEvent | JobStreamEvent:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_stream_event_type_0 = JobStreamEvent.from_dict(data)



                return componentsschemas_stream_event_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            componentsschemas_stream_event_type_1 = GapStreamEvent.from_dict(data)



            return componentsschemas_stream_event_type_1

        response_200 = _parse_response_200(response.text)

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | GapStreamEvent | JobStreamEvent]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    job: UUID | Unset = UNSET,
    batch: str | Unset = UNSET,
    workflow: UUID | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,

) -> Response[ErrorBody | GapStreamEvent | JobStreamEvent]:
    """ A stream of the caller's job events (`text/event-stream`; admins: every key's). Each
    event: `id` (resume with `Last-Event-ID`), `event` (its type) and `data` (an `EventView`).
    A client that resumes from before the oldest event kept first gets an event `gap`. A
    stream ends after `limits.max_event_stream_secs` (one hour by default), its last message
    an `id` without data that moves the client's `Last-Event-ID` past what it read; the client
    reconnects with it (`EventSource` does by itself). A key may have
    `limits.max_event_streams_per_key` streams open on one server (`429 too_many_streams`).
    The document describes each event of the stream as a `StreamEvent` (`openapi.rs`).

    Args:
        job (UUID | Unset):
        batch (str | Unset):
        workflow (UUID | Unset):
        kind (JobKind | Unset): What a job does.
        after (int | Unset):
        last_event_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | GapStreamEvent | JobStreamEvent]
     """


    kwargs = _get_kwargs(
        job=job,
batch=batch,
workflow=workflow,
kind=kind,
after=after,
last_event_id=last_event_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    job: UUID | Unset = UNSET,
    batch: str | Unset = UNSET,
    workflow: UUID | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,

) -> ErrorBody | GapStreamEvent | JobStreamEvent | None:
    """ A stream of the caller's job events (`text/event-stream`; admins: every key's). Each
    event: `id` (resume with `Last-Event-ID`), `event` (its type) and `data` (an `EventView`).
    A client that resumes from before the oldest event kept first gets an event `gap`. A
    stream ends after `limits.max_event_stream_secs` (one hour by default), its last message
    an `id` without data that moves the client's `Last-Event-ID` past what it read; the client
    reconnects with it (`EventSource` does by itself). A key may have
    `limits.max_event_streams_per_key` streams open on one server (`429 too_many_streams`).
    The document describes each event of the stream as a `StreamEvent` (`openapi.rs`).

    Args:
        job (UUID | Unset):
        batch (str | Unset):
        workflow (UUID | Unset):
        kind (JobKind | Unset): What a job does.
        after (int | Unset):
        last_event_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | GapStreamEvent | JobStreamEvent
     """


    return sync_detailed(
        client=client,
job=job,
batch=batch,
workflow=workflow,
kind=kind,
after=after,
last_event_id=last_event_id,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    job: UUID | Unset = UNSET,
    batch: str | Unset = UNSET,
    workflow: UUID | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,

) -> Response[ErrorBody | GapStreamEvent | JobStreamEvent]:
    """ A stream of the caller's job events (`text/event-stream`; admins: every key's). Each
    event: `id` (resume with `Last-Event-ID`), `event` (its type) and `data` (an `EventView`).
    A client that resumes from before the oldest event kept first gets an event `gap`. A
    stream ends after `limits.max_event_stream_secs` (one hour by default), its last message
    an `id` without data that moves the client's `Last-Event-ID` past what it read; the client
    reconnects with it (`EventSource` does by itself). A key may have
    `limits.max_event_streams_per_key` streams open on one server (`429 too_many_streams`).
    The document describes each event of the stream as a `StreamEvent` (`openapi.rs`).

    Args:
        job (UUID | Unset):
        batch (str | Unset):
        workflow (UUID | Unset):
        kind (JobKind | Unset): What a job does.
        after (int | Unset):
        last_event_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | GapStreamEvent | JobStreamEvent]
     """


    kwargs = _get_kwargs(
        job=job,
batch=batch,
workflow=workflow,
kind=kind,
after=after,
last_event_id=last_event_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    job: UUID | Unset = UNSET,
    batch: str | Unset = UNSET,
    workflow: UUID | Unset = UNSET,
    kind: JobKind | Unset = UNSET,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,

) -> ErrorBody | GapStreamEvent | JobStreamEvent | None:
    """ A stream of the caller's job events (`text/event-stream`; admins: every key's). Each
    event: `id` (resume with `Last-Event-ID`), `event` (its type) and `data` (an `EventView`).
    A client that resumes from before the oldest event kept first gets an event `gap`. A
    stream ends after `limits.max_event_stream_secs` (one hour by default), its last message
    an `id` without data that moves the client's `Last-Event-ID` past what it read; the client
    reconnects with it (`EventSource` does by itself). A key may have
    `limits.max_event_streams_per_key` streams open on one server (`429 too_many_streams`).
    The document describes each event of the stream as a `StreamEvent` (`openapi.rs`).

    Args:
        job (UUID | Unset):
        batch (str | Unset):
        workflow (UUID | Unset):
        kind (JobKind | Unset): What a job does.
        after (int | Unset):
        last_event_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | GapStreamEvent | JobStreamEvent
     """


    return (await asyncio_detailed(
        client=client,
job=job,
batch=batch,
workflow=workflow,
kind=kind,
after=after,
last_event_id=last_event_id,

    )).parsed
