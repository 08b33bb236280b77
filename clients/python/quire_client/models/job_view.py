from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.job_kind import JobKind
from ..models.job_status import JobStatus
from ..models.priority import Priority
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.job_error_view import JobErrorView
  from ..models.job_result_view import JobResultView
  from ..models.job_view_summary_type_0 import JobViewSummaryType0
  from ..models.links import Links





T = TypeVar("T", bound="JobView")



@_attrs_define
class JobView:
    """ A job as clients see it.

        Attributes:
            attempt (int):
            created_at (str): RFC 3339.
            id (str):
            kind (JobKind): What a job does.
            links (Links):
            max_attempts (int):
            priority (Priority): A job's priority: a worker takes the highest-priority ready job of a queue first.
                `notification` and `system` are given by quire itself; a request asks with `PriorityChoice`.
            status (JobStatus): A job's status: `scheduled` (waiting for `run_at`), `waiting` (a workflow step whose parents
                have not all ended), `queued`, `running`, `succeeded`, `failed` (will retry), `dead` or `cancelled`.
            cancel_requested (bool | Unset): Cancelling was asked while the job was running: it ends `cancelled` at the
                worker's
                next safe point, or `succeeded` if it finished before reaching one.
            error (JobErrorView | None | Unset):
            finished_at (None | str | Unset):
            message_id (None | str | Unset): An email job's `Message-ID`, once the server accepted it.
            progress (None | str | Unset):
            result (JobResultView | None | Unset):
            run_at (None | str | Unset): When a `scheduled` job starts, or a `failed` job runs again.
            started_at (None | str | Unset):
            summary (JobViewSummaryType0 | None | Unset): A maintenance job's outcome as its task reports it (e.g. cleanup's
                counts, the health
                checks).
     """

    attempt: int
    created_at: str
    id: str
    kind: JobKind
    links: Links
    max_attempts: int
    priority: Priority
    status: JobStatus
    cancel_requested: bool | Unset = UNSET
    error: JobErrorView | None | Unset = UNSET
    finished_at: None | str | Unset = UNSET
    message_id: None | str | Unset = UNSET
    progress: None | str | Unset = UNSET
    result: JobResultView | None | Unset = UNSET
    run_at: None | str | Unset = UNSET
    started_at: None | str | Unset = UNSET
    summary: JobViewSummaryType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.job_error_view import JobErrorView # noqa: PLC0415
        from ..models.job_result_view import JobResultView # noqa: PLC0415
        from ..models.job_view_summary_type_0 import JobViewSummaryType0 # noqa: PLC0415
        from ..models.links import Links # noqa: PLC0415
        attempt = self.attempt

        created_at = self.created_at

        id = self.id

        kind = self.kind.value

        links = self.links.to_dict()

        max_attempts = self.max_attempts

        priority = self.priority.value

        status = self.status.value

        cancel_requested = self.cancel_requested

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, JobErrorView):
            error = self.error.to_dict()
        else:
            error = self.error

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        else:
            finished_at = self.finished_at

        message_id: None | str | Unset
        if isinstance(self.message_id, Unset):
            message_id = UNSET
        else:
            message_id = self.message_id

        progress: None | str | Unset
        if isinstance(self.progress, Unset):
            progress = UNSET
        else:
            progress = self.progress

        result: dict[str, Any] | None | Unset
        if isinstance(self.result, Unset):
            result = UNSET
        elif isinstance(self.result, JobResultView):
            result = self.result.to_dict()
        else:
            result = self.result

        run_at: None | str | Unset
        if isinstance(self.run_at, Unset):
            run_at = UNSET
        else:
            run_at = self.run_at

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        else:
            started_at = self.started_at

        summary: dict[str, Any] | None | Unset
        if isinstance(self.summary, Unset):
            summary = UNSET
        elif isinstance(self.summary, JobViewSummaryType0):
            summary = self.summary.to_dict()
        else:
            summary = self.summary


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "attempt": attempt,
            "created_at": created_at,
            "id": id,
            "kind": kind,
            "links": links,
            "max_attempts": max_attempts,
            "priority": priority,
            "status": status,
        })
        if cancel_requested is not UNSET:
            field_dict["cancel_requested"] = cancel_requested
        if error is not UNSET:
            field_dict["error"] = error
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if message_id is not UNSET:
            field_dict["message_id"] = message_id
        if progress is not UNSET:
            field_dict["progress"] = progress
        if result is not UNSET:
            field_dict["result"] = result
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if summary is not UNSET:
            field_dict["summary"] = summary

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_error_view import JobErrorView # noqa: PLC0415
        from ..models.job_result_view import JobResultView # noqa: PLC0415
        from ..models.job_view_summary_type_0 import JobViewSummaryType0 # noqa: PLC0415
        from ..models.links import Links # noqa: PLC0415
        d = dict(src_dict)
        attempt = d.pop("attempt")

        created_at = d.pop("created_at")

        id = d.pop("id")

        kind = JobKind(d.pop("kind"))




        links = Links.from_dict(d.pop("links"))




        max_attempts = d.pop("max_attempts")

        priority = Priority(d.pop("priority"))




        status = JobStatus(d.pop("status"))




        cancel_requested = d.pop("cancel_requested", UNSET)

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


        def _parse_finished_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))


        def _parse_message_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message_id = _parse_message_id(d.pop("message_id", UNSET))


        def _parse_progress(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        progress = _parse_progress(d.pop("progress", UNSET))


        def _parse_result(data: object) -> JobResultView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_type_1 = JobResultView.from_dict(data)



                return result_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobResultView | None | Unset, data)

        result = _parse_result(d.pop("result", UNSET))


        def _parse_run_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        run_at = _parse_run_at(d.pop("run_at", UNSET))


        def _parse_started_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))


        def _parse_summary(data: object) -> JobViewSummaryType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                summary_type_0 = JobViewSummaryType0.from_dict(data)



                return summary_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobViewSummaryType0 | None | Unset, data)

        summary = _parse_summary(d.pop("summary", UNSET))


        job_view = cls(
            attempt=attempt,
            created_at=created_at,
            id=id,
            kind=kind,
            links=links,
            max_attempts=max_attempts,
            priority=priority,
            status=status,
            cancel_requested=cancel_requested,
            error=error,
            finished_at=finished_at,
            message_id=message_id,
            progress=progress,
            result=result,
            run_at=run_at,
            started_at=started_at,
            summary=summary,
        )


        job_view.additional_properties = d
        return job_view

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
