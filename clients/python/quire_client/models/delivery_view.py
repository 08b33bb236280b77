from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.delivery_view_payload import DeliveryViewPayload





T = TypeVar("T", bound="DeliveryView")



@_attrs_define
class DeliveryView:
    """ One delivery: an event to an endpoint, with its attempts.

        Attributes:
            attempts (int):
            created_at (str):
            event_id (int): The event's id in `GET /v1/events` (0 for a test delivery).
            event_type (str):
            id (str): Also its `webhook-id` header (`msg_` + this id), the same on every attempt.
            payload (DeliveryViewPayload): The body every attempt sends.
            status (str): `queued`, `running`, `failed` (will retry at `next_attempt_at`), `succeeded`, `dead`
                (gave up: a permanent answer or no attempts left) or `cancelled`.
            url (str):
            error (None | str | Unset):
            last_attempt_at (None | str | Unset):
            next_attempt_at (None | str | Unset):
            response_body (None | str | Unset): The first KiB of the last answer's body.
            response_ms (int | None | Unset):
            response_status (int | None | Unset): The last attempt's HTTP status; null when there was no answer.
     """

    attempts: int
    created_at: str
    event_id: int
    event_type: str
    id: str
    payload: DeliveryViewPayload
    status: str
    url: str
    error: None | str | Unset = UNSET
    last_attempt_at: None | str | Unset = UNSET
    next_attempt_at: None | str | Unset = UNSET
    response_body: None | str | Unset = UNSET
    response_ms: int | None | Unset = UNSET
    response_status: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.delivery_view_payload import DeliveryViewPayload # noqa: PLC0415
        attempts = self.attempts

        created_at = self.created_at

        event_id = self.event_id

        event_type = self.event_type

        id = self.id

        payload = self.payload.to_dict()

        status = self.status

        url = self.url

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        last_attempt_at: None | str | Unset
        if isinstance(self.last_attempt_at, Unset):
            last_attempt_at = UNSET
        else:
            last_attempt_at = self.last_attempt_at

        next_attempt_at: None | str | Unset
        if isinstance(self.next_attempt_at, Unset):
            next_attempt_at = UNSET
        else:
            next_attempt_at = self.next_attempt_at

        response_body: None | str | Unset
        if isinstance(self.response_body, Unset):
            response_body = UNSET
        else:
            response_body = self.response_body

        response_ms: int | None | Unset
        if isinstance(self.response_ms, Unset):
            response_ms = UNSET
        else:
            response_ms = self.response_ms

        response_status: int | None | Unset
        if isinstance(self.response_status, Unset):
            response_status = UNSET
        else:
            response_status = self.response_status


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "attempts": attempts,
            "created_at": created_at,
            "event_id": event_id,
            "event_type": event_type,
            "id": id,
            "payload": payload,
            "status": status,
            "url": url,
        })
        if error is not UNSET:
            field_dict["error"] = error
        if last_attempt_at is not UNSET:
            field_dict["last_attempt_at"] = last_attempt_at
        if next_attempt_at is not UNSET:
            field_dict["next_attempt_at"] = next_attempt_at
        if response_body is not UNSET:
            field_dict["response_body"] = response_body
        if response_ms is not UNSET:
            field_dict["response_ms"] = response_ms
        if response_status is not UNSET:
            field_dict["response_status"] = response_status

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.delivery_view_payload import DeliveryViewPayload # noqa: PLC0415
        d = dict(src_dict)
        attempts = d.pop("attempts")

        created_at = d.pop("created_at")

        event_id = d.pop("event_id")

        event_type = d.pop("event_type")

        id = d.pop("id")

        payload = DeliveryViewPayload.from_dict(d.pop("payload"))




        status = d.pop("status")

        url = d.pop("url")

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        def _parse_last_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_attempt_at = _parse_last_attempt_at(d.pop("last_attempt_at", UNSET))


        def _parse_next_attempt_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at", UNSET))


        def _parse_response_body(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        response_body = _parse_response_body(d.pop("response_body", UNSET))


        def _parse_response_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        response_ms = _parse_response_ms(d.pop("response_ms", UNSET))


        def _parse_response_status(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        response_status = _parse_response_status(d.pop("response_status", UNSET))


        delivery_view = cls(
            attempts=attempts,
            created_at=created_at,
            event_id=event_id,
            event_type=event_type,
            id=id,
            payload=payload,
            status=status,
            url=url,
            error=error,
            last_attempt_at=last_attempt_at,
            next_attempt_at=next_attempt_at,
            response_body=response_body,
            response_ms=response_ms,
            response_status=response_status,
        )


        delivery_view.additional_properties = d
        return delivery_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
