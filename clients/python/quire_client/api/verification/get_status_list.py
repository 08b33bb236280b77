from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_body import ErrorBody
from typing import cast



def _get_kwargs(
    list_: int,

) -> dict[str, Any]:
    

    

    

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/credentials/status/{list_}".format(list_=quote(str(list_), safe=""),),
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | ErrorBody | None:
    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())



        return response_400

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())



        return response_404

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    list_: int,
    *,
    client: AuthenticatedClient | Client,

) -> Response[Any | ErrorBody]:
    """ A revocation status list (W3C Bitstring Status List): a `BitstringStatusListCredential`
    as a VC-JWT, whose `encodedList` has the bit of every revoked certificate's entry set. Read
    from the database on each request (revocation flips the bit in its own transaction), so
    `Cache-Control: no-cache`: caches revalidate with the `ETag`.

    Args:
        list_ (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
     """


    kwargs = _get_kwargs(
        list_=list_,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    list_: int,
    *,
    client: AuthenticatedClient | Client,

) -> Any | ErrorBody | None:
    """ A revocation status list (W3C Bitstring Status List): a `BitstringStatusListCredential`
    as a VC-JWT, whose `encodedList` has the bit of every revoked certificate's entry set. Read
    from the database on each request (revocation flips the bit in its own transaction), so
    `Cache-Control: no-cache`: caches revalidate with the `ETag`.

    Args:
        list_ (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
     """


    return sync_detailed(
        list_=list_,
client=client,

    ).parsed

async def asyncio_detailed(
    list_: int,
    *,
    client: AuthenticatedClient | Client,

) -> Response[Any | ErrorBody]:
    """ A revocation status list (W3C Bitstring Status List): a `BitstringStatusListCredential`
    as a VC-JWT, whose `encodedList` has the bit of every revoked certificate's entry set. Read
    from the database on each request (revocation flips the bit in its own transaction), so
    `Cache-Control: no-cache`: caches revalidate with the `ETag`.

    Args:
        list_ (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
     """


    kwargs = _get_kwargs(
        list_=list_,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    list_: int,
    *,
    client: AuthenticatedClient | Client,

) -> Any | ErrorBody | None:
    """ A revocation status list (W3C Bitstring Status List): a `BitstringStatusListCredential`
    as a VC-JWT, whose `encodedList` has the bit of every revoked certificate's entry set. Read
    from the database on each request (revocation flips the bit in its own transaction), so
    `Cache-Control: no-cache`: caches revalidate with the `ETag`.

    Args:
        list_ (int):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
     """


    return (await asyncio_detailed(
        list_=list_,
client=client,

    )).parsed
