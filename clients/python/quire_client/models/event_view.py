from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.job_kind import JobKind
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="EventView")



@_attrs_define
class EventView:
    """ One event as the stream's `data` carries it (the SSE `id` is `id`, its `event` is `type`).

        Attributes:
            at (str): When it happened, RFC 3339.
            id (int): Its place in the event log; resume after it with `Last-Event-ID`.
            type_ (str): `job.<status>` (`job.running`, `job.succeeded`, `job.failed`, `job.dead`,
                `job.cancelled`, `job.queued`, `job.waiting`), `batch.completed`,
                `certificate.revoked`, `workflow.completed` or `workflow.failed`.
            attempt (int | None | Unset):
            batch_id (None | str | Unset):
            job_id (None | str | Unset):
            kind (JobKind | None | Unset):
            status (None | str | Unset): The job's status for `job.*` events, `revoked` or `completed` for the others.
            workflow_id (None | str | Unset):
     """

    at: str
    id: int
    type_: str
    attempt: int | None | Unset = UNSET
    batch_id: None | str | Unset = UNSET
    job_id: None | str | Unset = UNSET
    kind: JobKind | None | Unset = UNSET
    status: None | str | Unset = UNSET
    workflow_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        at = self.at

        id = self.id

        type_ = self.type_

        attempt: int | None | Unset
        if isinstance(self.attempt, Unset):
            attempt = UNSET
        else:
            attempt = self.attempt

        batch_id: None | str | Unset
        if isinstance(self.batch_id, Unset):
            batch_id = UNSET
        else:
            batch_id = self.batch_id

        job_id: None | str | Unset
        if isinstance(self.job_id, Unset):
            job_id = UNSET
        else:
            job_id = self.job_id

        kind: None | str | Unset
        if isinstance(self.kind, Unset):
            kind = UNSET
        elif isinstance(self.kind, JobKind):
            kind = self.kind.value
        else:
            kind = self.kind

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        else:
            status = self.status

        workflow_id: None | str | Unset
        if isinstance(self.workflow_id, Unset):
            workflow_id = UNSET
        else:
            workflow_id = self.workflow_id


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "at": at,
            "id": id,
            "type": type_,
        })
        if attempt is not UNSET:
            field_dict["attempt"] = attempt
        if batch_id is not UNSET:
            field_dict["batch_id"] = batch_id
        if job_id is not UNSET:
            field_dict["job_id"] = job_id
        if kind is not UNSET:
            field_dict["kind"] = kind
        if status is not UNSET:
            field_dict["status"] = status
        if workflow_id is not UNSET:
            field_dict["workflow_id"] = workflow_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        at = d.pop("at")

        id = d.pop("id")

        type_ = d.pop("type")

        def _parse_attempt(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        attempt = _parse_attempt(d.pop("attempt", UNSET))


        def _parse_batch_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        batch_id = _parse_batch_id(d.pop("batch_id", UNSET))


        def _parse_job_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        job_id = _parse_job_id(d.pop("job_id", UNSET))


        def _parse_kind(data: object) -> JobKind | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                kind_type_0 = JobKind(data)



                return kind_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobKind | None | Unset, data)

        kind = _parse_kind(d.pop("kind", UNSET))


        def _parse_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        status = _parse_status(d.pop("status", UNSET))


        def _parse_workflow_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        workflow_id = _parse_workflow_id(d.pop("workflow_id", UNSET))


        event_view = cls(
            at=at,
            id=id,
            type_=type_,
            attempt=attempt,
            batch_id=batch_id,
            job_id=job_id,
            kind=kind,
            status=status,
            workflow_id=workflow_id,
        )


        event_view.additional_properties = d
        return event_view

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
