from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.certificate_page import CertificatePage
from ...models.certificate_sort import CertificateSort
from ...models.certificate_status import CertificateStatus
from ...models.error_body import ErrorBody
from ...types import UNSET, Unset
from typing import cast
import datetime



def _get_kwargs(
    *,
    template: str | Unset = UNSET,
    status: CertificateStatus | Unset = UNSET,
    recipient: str | Unset = UNSET,
    issued_from: datetime.date | Unset = UNSET,
    issued_to: datetime.date | Unset = UNSET,
    batch: str | Unset = UNSET,
    sort: CertificateSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    params["template"] = template

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["recipient"] = recipient

    json_issued_from: str | Unset = UNSET
    if not isinstance(issued_from, Unset):
        json_issued_from = issued_from.isoformat()
    params["issued_from"] = json_issued_from

    json_issued_to: str | Unset = UNSET
    if not isinstance(issued_to, Unset):
        json_issued_to = issued_to.isoformat()
    params["issued_to"] = json_issued_to

    params["batch"] = batch

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    params["limit"] = limit

    params["cursor"] = cursor


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/certificates/public",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> CertificatePage | ErrorBody | None:
    if response.status_code == 200:
        response_200 = CertificatePage.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())



        return response_400

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[CertificatePage | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    template: str | Unset = UNSET,
    status: CertificateStatus | Unset = UNSET,
    recipient: str | Unset = UNSET,
    issued_from: datetime.date | Unset = UNSET,
    issued_to: datetime.date | Unset = UNSET,
    batch: str | Unset = UNSET,
    sort: CertificateSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> Response[CertificatePage | ErrorBody]:
    """ Certificates issued with `is_public: true` and rendered; no key needed. With CDN purging
    configured, a page is cacheable for 60 s and tagged (`registry`, and `template-<id>` when
    filtered by a template); a revocation or deletion purges it.

    Args:
        template (str | Unset):
        status (CertificateStatus | Unset): A certificate's status in the registries.
        recipient (str | Unset):
        issued_from (datetime.date | Unset):
        issued_to (datetime.date | Unset):
        batch (str | Unset):
        sort (CertificateSort | Unset): The order of a registry listing.
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CertificatePage | ErrorBody]
     """


    kwargs = _get_kwargs(
        template=template,
status=status,
recipient=recipient,
issued_from=issued_from,
issued_to=issued_to,
batch=batch,
sort=sort,
limit=limit,
cursor=cursor,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient | Client,
    template: str | Unset = UNSET,
    status: CertificateStatus | Unset = UNSET,
    recipient: str | Unset = UNSET,
    issued_from: datetime.date | Unset = UNSET,
    issued_to: datetime.date | Unset = UNSET,
    batch: str | Unset = UNSET,
    sort: CertificateSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> CertificatePage | ErrorBody | None:
    """ Certificates issued with `is_public: true` and rendered; no key needed. With CDN purging
    configured, a page is cacheable for 60 s and tagged (`registry`, and `template-<id>` when
    filtered by a template); a revocation or deletion purges it.

    Args:
        template (str | Unset):
        status (CertificateStatus | Unset): A certificate's status in the registries.
        recipient (str | Unset):
        issued_from (datetime.date | Unset):
        issued_to (datetime.date | Unset):
        batch (str | Unset):
        sort (CertificateSort | Unset): The order of a registry listing.
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CertificatePage | ErrorBody
     """


    return sync_detailed(
        client=client,
template=template,
status=status,
recipient=recipient,
issued_from=issued_from,
issued_to=issued_to,
batch=batch,
sort=sort,
limit=limit,
cursor=cursor,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    template: str | Unset = UNSET,
    status: CertificateStatus | Unset = UNSET,
    recipient: str | Unset = UNSET,
    issued_from: datetime.date | Unset = UNSET,
    issued_to: datetime.date | Unset = UNSET,
    batch: str | Unset = UNSET,
    sort: CertificateSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> Response[CertificatePage | ErrorBody]:
    """ Certificates issued with `is_public: true` and rendered; no key needed. With CDN purging
    configured, a page is cacheable for 60 s and tagged (`registry`, and `template-<id>` when
    filtered by a template); a revocation or deletion purges it.

    Args:
        template (str | Unset):
        status (CertificateStatus | Unset): A certificate's status in the registries.
        recipient (str | Unset):
        issued_from (datetime.date | Unset):
        issued_to (datetime.date | Unset):
        batch (str | Unset):
        sort (CertificateSort | Unset): The order of a registry listing.
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CertificatePage | ErrorBody]
     """


    kwargs = _get_kwargs(
        template=template,
status=status,
recipient=recipient,
issued_from=issued_from,
issued_to=issued_to,
batch=batch,
sort=sort,
limit=limit,
cursor=cursor,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    template: str | Unset = UNSET,
    status: CertificateStatus | Unset = UNSET,
    recipient: str | Unset = UNSET,
    issued_from: datetime.date | Unset = UNSET,
    issued_to: datetime.date | Unset = UNSET,
    batch: str | Unset = UNSET,
    sort: CertificateSort | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> CertificatePage | ErrorBody | None:
    """ Certificates issued with `is_public: true` and rendered; no key needed. With CDN purging
    configured, a page is cacheable for 60 s and tagged (`registry`, and `template-<id>` when
    filtered by a template); a revocation or deletion purges it.

    Args:
        template (str | Unset):
        status (CertificateStatus | Unset): A certificate's status in the registries.
        recipient (str | Unset):
        issued_from (datetime.date | Unset):
        issued_to (datetime.date | Unset):
        batch (str | Unset):
        sort (CertificateSort | Unset): The order of a registry listing.
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CertificatePage | ErrorBody
     """


    return (await asyncio_detailed(
        client=client,
template=template,
status=status,
recipient=recipient,
issued_from=issued_from,
issued_to=issued_to,
batch=batch,
sort=sort,
limit=limit,
cursor=cursor,

    )).parsed
