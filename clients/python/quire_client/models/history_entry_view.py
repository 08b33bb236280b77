from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.job_status import JobStatus
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.job_error_view import JobErrorView





T = TypeVar("T", bound="HistoryEntryView")



@_attrs_define
class HistoryEntryView:
    """ One status change of a job.

        Attributes:
            at (str):
            attempt (int): The attempt it belongs to (0 before the first).
            status (JobStatus): A job's status: `scheduled` (waiting for `run_at`), `waiting` (a workflow step whose parents
                have not all ended), `queued`, `running`, `succeeded`, `failed` (will retry), `dead` or `cancelled`.
            error (JobErrorView | None | Unset):
            worker (None | str | Unset): The worker that ran the attempt (on `running` and the attempt's end).
     """

    at: str
    attempt: int
    status: JobStatus
    error: JobErrorView | None | Unset = UNSET
    worker: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.job_error_view import JobErrorView # noqa: PLC0415
        at = self.at

        attempt = self.attempt

        status = self.status.value

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, JobErrorView):
            error = self.error.to_dict()
        else:
            error = self.error

        worker: None | str | Unset
        if isinstance(self.worker, Unset):
            worker = UNSET
        else:
            worker = self.worker


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "at": at,
            "attempt": attempt,
            "status": status,
        })
        if error is not UNSET:
            field_dict["error"] = error
        if worker is not UNSET:
            field_dict["worker"] = worker

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_error_view import JobErrorView # noqa: PLC0415
        d = dict(src_dict)
        at = d.pop("at")

        attempt = d.pop("attempt")

        status = JobStatus(d.pop("status"))




        def _parse_error(data: object) -> JobErrorView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_1 = JobErrorView.from_dict(data)



                return error_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobErrorView | None | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        def _parse_worker(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        worker = _parse_worker(d.pop("worker", UNSET))


        history_entry_view = cls(
            at=at,
            attempt=attempt,
            status=status,
            error=error,
            worker=worker,
        )


        history_entry_view.additional_properties = d
        return history_entry_view

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
