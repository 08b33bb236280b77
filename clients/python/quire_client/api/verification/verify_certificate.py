from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_body import ErrorBody
from ...models.verification import Verification
from typing import cast



def _get_kwargs(
    code: str,

) -> dict[str, Any]:
    

    

    

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/verify/{code}".format(code=quote(str(code), safe=""),),
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | ErrorBody | Verification | None:
    if response.status_code == 200:
        response_200 = Verification.from_dict(response.json())



        return response_200

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | ErrorBody | Verification]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    code: str,
    *,
    client: AuthenticatedClient | Client,

) -> Response[Any | ErrorBody | Verification]:
    """ Verify a certificate by its code. Browsers (`Accept: text/html`) get the HTML page. The
    answer carries an `ETag`, `Cache-Control: public, max-age=60` (longer with CDN purging
    configured) and its cache tag (`Surrogate-Key`, `Cache-Tag`); `If-None-Match` with the
    current ETag answers 304 (revoking the certificate changes it).

    Args:
        code (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | Verification]
     """


    kwargs = _get_kwargs(
        code=code,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    code: str,
    *,
    client: AuthenticatedClient | Client,

) -> Any | ErrorBody | Verification | None:
    """ Verify a certificate by its code. Browsers (`Accept: text/html`) get the HTML page. The
    answer carries an `ETag`, `Cache-Control: public, max-age=60` (longer with CDN purging
    configured) and its cache tag (`Surrogate-Key`, `Cache-Tag`); `If-None-Match` with the
    current ETag answers 304 (revoking the certificate changes it).

    Args:
        code (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | Verification
     """


    return sync_detailed(
        code=code,
client=client,

    ).parsed

async def asyncio_detailed(
    code: str,
    *,
    client: AuthenticatedClient | Client,

) -> Response[Any | ErrorBody | Verification]:
    """ Verify a certificate by its code. Browsers (`Accept: text/html`) get the HTML page. The
    answer carries an `ETag`, `Cache-Control: public, max-age=60` (longer with CDN purging
    configured) and its cache tag (`Surrogate-Key`, `Cache-Tag`); `If-None-Match` with the
    current ETag answers 304 (revoking the certificate changes it).

    Args:
        code (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | Verification]
     """


    kwargs = _get_kwargs(
        code=code,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    code: str,
    *,
    client: AuthenticatedClient | Client,

) -> Any | ErrorBody | Verification | None:
    """ Verify a certificate by its code. Browsers (`Accept: text/html`) get the HTML page. The
    answer carries an `ETag`, `Cache-Control: public, max-age=60` (longer with CDN purging
    configured) and its cache tag (`Surrogate-Key`, `Cache-Tag`); `If-None-Match` with the
    current ETag answers 304 (revoking the certificate changes it).

    Args:
        code (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | Verification
     """


    return (await asyncio_detailed(
        code=code,
client=client,

    )).parsed
