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
  from ..models.job_view import JobView
  from ..models.step_view_counts import StepViewCounts





T = TypeVar("T", bound="StepView")



@_attrs_define
class StepView:
    """ One named step.

        Attributes:
            after (list[str]):
            counts (StepViewCounts): Its jobs per status.
            jobs (int): Its jobs (a batch step: one per row).
            kind (str): `certificate`, `report`, `email`, `batch`, `merge` or `archive`.
            name (str):
            on_parent_failure (str): `cancel` or `continue`.
            status (JobStatus): A job's status: `scheduled` (waiting for `run_at`), `waiting` (a workflow step whose parents
                have not all ended), `queued`, `running`, `succeeded`, `failed` (will retry), `dead` or `cancelled`.
            job (JobView | None | Unset):
     """

    after: list[str]
    counts: StepViewCounts
    jobs: int
    kind: str
    name: str
    on_parent_failure: str
    status: JobStatus
    job: JobView | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.job_view import JobView # noqa: PLC0415
        from ..models.step_view_counts import StepViewCounts # noqa: PLC0415
        after = self.after



        counts = self.counts.to_dict()

        jobs = self.jobs

        kind = self.kind

        name = self.name

        on_parent_failure = self.on_parent_failure

        status = self.status.value

        job: dict[str, Any] | None | Unset
        if isinstance(self.job, Unset):
            job = UNSET
        elif isinstance(self.job, JobView):
            job = self.job.to_dict()
        else:
            job = self.job


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "after": after,
            "counts": counts,
            "jobs": jobs,
            "kind": kind,
            "name": name,
            "on_parent_failure": on_parent_failure,
            "status": status,
        })
        if job is not UNSET:
            field_dict["job"] = job

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_view import JobView # noqa: PLC0415
        from ..models.step_view_counts import StepViewCounts # noqa: PLC0415
        d = dict(src_dict)
        after = cast(list[str], d.pop("after"))


        counts = StepViewCounts.from_dict(d.pop("counts"))




        jobs = d.pop("jobs")

        kind = d.pop("kind")

        name = d.pop("name")

        on_parent_failure = d.pop("on_parent_failure")

        status = JobStatus(d.pop("status"))




        def _parse_job(data: object) -> JobView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                job_type_1 = JobView.from_dict(data)



                return job_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobView | None | Unset, data)

        job = _parse_job(d.pop("job", UNSET))


        step_view = cls(
            after=after,
            counts=counts,
            jobs=jobs,
            kind=kind,
            name=name,
            on_parent_failure=on_parent_failure,
            status=status,
            job=job,
        )


        step_view.additional_properties = d
        return step_view

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
